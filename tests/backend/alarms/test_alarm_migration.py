"""Migration 0006 creates exactly the tables the alarm models describe, and can be undone."""
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Table, inspect
from sqlmodel import SQLModel

import backend.alarms.models  # noqa: F401  (registers the alarm tables)
import backend.models  # noqa: F401
from backend.core.migrate import alembic_config

ALARM_TABLES = {"alarm", "alarm_watch"}


def _table_of(difference) -> str | None:
    """The table an autogenerate difference is about (a list groups column changes of one table)."""
    first = difference[0] if isinstance(difference, list) else difference
    if first[0] in ("add_column", "remove_column") or first[0].startswith("modify_"):
        return first[2]
    item = first[1]
    return item.name if isinstance(item, Table) else getattr(getattr(item, "table", None), "name", None)


def test_migrated_schema_matches_the_alarm_models(engine):
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, SQLModel.metadata)
    assert [d for d in differences if _table_of(d) in ALARM_TABLES] == []


def test_downgrade_removes_the_alarm_tables_and_upgrade_restores_them(database_url, engine):
    config = alembic_config(database_url)
    command.downgrade(config, "0005")
    engine.dispose()
    assert not ALARM_TABLES & set(inspect(engine).get_table_names())
    command.upgrade(config, "head")
    engine.dispose()
    assert ALARM_TABLES <= set(inspect(engine).get_table_names())
