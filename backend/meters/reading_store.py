"""Readings written set-based, once per identity (meter, boot, seq, outlet): many rows, one statement.

PostgreSQL gets the rows as one array per column and unnests them: the statement's text is the same
for every batch, so neither the driver nor the server parses it again (a multi-row VALUES list is a
new statement for every batch size, and building it cost more than storing the rows). SQLite gets a
multi-row INSERT. Either way ON CONFLICT DO NOTHING RETURNING says which rows were new.
"""
from datetime import datetime, time

from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from backend.core.clock import LOCAL_TZ
from backend.meters.daily_totals import mark_days_due, rolls_up
from backend.meters.models import Reading

Identity = tuple[int, str, int, int]
COLUMNS = ("meter_id", "boot_id", "seq", "channel", "device_time", "received_at", "energy_wh", "power_w",
           "voltage_v", "current_a", "relay_closed", "session_id")
_PG_TYPES = ("int", "text", "bigint", "int", "timestamptz", "timestamptz", "bigint", "float8", "float8", "float8",
             "bool", "bigint")
_FLOATS = ("power_w", "voltage_v", "current_a")
# %(name)b: psycopg sends each array in binary, which is 4× cheaper to build than text (no quoting per element).
_PG_INSERT = (
    f"INSERT INTO reading ({', '.join(COLUMNS)}) "
    f"SELECT * FROM unnest({', '.join(f'%({c})b::{t}[]' for c, t in zip(COLUMNS, _PG_TYPES))}) "
    f"ON CONFLICT DO NOTHING RETURNING meter_id, boot_id, seq, channel, device_time, received_at")


def insert_readings(db: Session, rows: list[dict]) -> set[Identity]:
    """Insert the rows (dicts of COLUMNS); return the identities of those that were new."""
    if not rows:
        return set()
    if db.get_bind().dialect.name == "postgresql":
        arrays = {column: [row[column] for row in rows] for column in COLUMNS}
        for column in _FLOATS:  # the driver types a list by its items: 0 and 1482.7 must both be floats
            arrays[column] = [float(value) for value in arrays[column]]
        found = db.connection().exec_driver_sql(_PG_INSERT, arrays).all()
    else:
        statement = sqlite_insert(Reading).on_conflict_do_nothing().returning(
            Reading.meter_id, Reading.boot_id, Reading.seq, Reading.channel, Reading.device_time,
            Reading.received_at)
        found = db.execute(statement, rows).all()
    if found and rolls_up(db):
        _mark_late_days(db, found)
    return {tuple(row[:4]) for row in found}


def _mark_late_days(db: Session, found) -> None:
    """Days before the one the batch arrived on whose totals these readings make stale (most batches: none)."""
    received_today = datetime.combine(max(r[5] for r in found).astimezone(LOCAL_TZ).date(), time(), LOCAL_TZ)
    late = {r[4].astimezone(LOCAL_TZ).date() for r in found if r[4] < received_today}
    if late:
        mark_days_due(db, late)
