"""Migration 0020 turns a reading table holding data into the partitioned one: every row, id and the sequence kept."""
from datetime import timedelta

from alembic import command
from sqlalchemy import text
from sqlmodel import Session

from backend.core.clock import utcnow
from backend.core.migrate import alembic_config
from backend.meters.partitions import Month
from tests import factories

INSERT = ("INSERT INTO reading (meter_id, boot_id, seq, channel, device_time, received_at, energy_wh, power_w, "
          "voltage_v, current_a, relay_closed) VALUES (:meter, 'b', :seq, 1, :at, :at, :wh, 0, 230, 0, false)")


def _readings(engine) -> list[tuple]:
    with engine.connect() as connection:
        return [tuple(r) for r in connection.execute(text(
            "SELECT id, seq, device_time, energy_wh FROM reading ORDER BY id"))]


def test_existing_readings_are_copied_with_their_ids_and_the_sequence_goes_on(database_url, engine):
    config = alembic_config(database_url)
    command.downgrade(config, "0019")
    engine.dispose()
    with Session(engine) as db:
        _, meter = factories.active_point(db, outlets=1)
        db.commit()
        meter_id = meter.id
    now = utcnow()
    times = [now - timedelta(days=70), now - timedelta(days=1), now, now - timedelta(days=365 * 30)]
    with engine.begin() as connection:
        for seq, at in enumerate(times):
            connection.execute(text(INSERT), {"meter": meter_id, "seq": seq, "at": at, "wh": 1000 + seq})
    before = _readings(engine)

    command.upgrade(config, "head")
    engine.dispose()

    assert _readings(engine) == before
    with engine.begin() as connection:
        connection.execute(text(INSERT), {"meter": meter_id, "seq": 99, "at": now, "wh": 5})
        newest = connection.execute(text("SELECT max(id) FROM reading")).scalar_one()
        if engine.dialect.name == "postgresql":
            kind = connection.execute(text("SELECT relkind FROM pg_class WHERE relname = 'reading'")).scalar_one()
            homes = dict(connection.execute(text("SELECT seq, tableoid::regclass::text FROM reading")).all())
            assert kind == "p"
            assert homes[3] == "reading_default"  # thirty years old: no partition of its own
            assert homes[0] == Month.of(times[0]).table and homes[2] == Month.of(now).table
    assert newest > max(r[0] for r in before)

    command.downgrade(config, "0019")
    engine.dispose()
    assert [r[:2] for r in _readings(engine)] == [r[:2] for r in before] + [(newest, 99)]
    command.upgrade(config, "head")
