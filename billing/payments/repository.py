"""Inserts that happen once even when a webhook and a request race for the same row."""
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, SQLModel


def insert_once(db: Session, row: SQLModel, *unique_on: str) -> bool:
    """Insert `row` unless a row with the same `unique_on` values exists; True when inserted.

    ON CONFLICT DO NOTHING waits for a concurrent insert of the same key to commit or roll
    back, so two transactions can never both believe they wrote the row.
    """
    table = type(row).__table__
    values = {name: value for name, value in row.model_dump().items() if value is not None}
    insert = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (insert(table).values(**values).on_conflict_do_nothing(index_elements=list(unique_on))
                 .returning(*(table.c[name] for name in unique_on)))
    db.flush()
    # RETURNING gives a row only when this insert wrote one (rowcount is -1 on some drivers).
    return db.execute(statement).first() is not None
