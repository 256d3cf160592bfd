"""Migration 0012 folds the old one-row-per-message quarantine into counts per topic, and can be undone."""
from alembic import command
from sqlalchemy import inspect, text

from backend.core.migrate import alembic_config


def test_old_rejected_messages_become_one_count_per_topic_and_come_back_on_downgrade(database_url, engine):
    config = alembic_config(database_url)
    command.downgrade(config, "0007")
    with engine.begin() as connection:
        for topic, payload in [("sp/m/SP1/telemetry", "a"), ("sp/m/SP1/telemetry", "b" * 4000),
                               ("sp/m/SP2/ack", "c")]:
            connection.execute(text("INSERT INTO rejected_message (topic, reason, payload, received_at) "
                                    "VALUES (:topic, 'bad', :payload, CURRENT_TIMESTAMP)"),
                               dict(topic=topic, payload=payload))
    command.upgrade(config, "head")
    engine.dispose()
    assert "rejected_message" not in inspect(engine).get_table_names()
    with engine.connect() as connection:
        found = connection.execute(text("SELECT source, kind, count, length(last_payload) FROM quarantine_entry "
                                        "ORDER BY source")).all()
    assert [tuple(row) for row in found] == [("sp/m/SP1/telemetry", "unsorted", 2, 512),
                                             ("sp/m/SP2/ack", "unsorted", 1, 1)]

    command.downgrade(config, "0007")
    engine.dispose()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM rejected_message")).scalar_one() == 2
    command.upgrade(config, "head")
