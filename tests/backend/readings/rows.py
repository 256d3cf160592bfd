"""Reading rows as the gateway hands them to the store, and where PostgreSQL put them."""
from datetime import datetime

from sqlalchemy import text
from sqlmodel import Session

from backend.core.clock import utcnow


def row(meter_id: int, seq: int, at: datetime, energy_wh: int, channel: int = 1, boot_id: str = "boot-1",
        received_at: datetime | None = None) -> dict:
    return {"meter_id": meter_id, "boot_id": boot_id, "seq": seq, "channel": channel, "device_time": at,
            "received_at": received_at or utcnow(), "energy_wh": energy_wh, "power_w": 0.0, "voltage_v": 230.0,
            "current_a": 0.0, "relay_closed": False, "session_id": None}


def is_postgres(db: Session) -> bool:
    return db.get_bind().dialect.name == "postgresql"


def where_stored(db: Session) -> dict[tuple[int, int], str]:
    """(seq, channel) → the partition holding the reading ("reading" on SQLite's plain table)."""
    table = "tableoid::regclass::text" if is_postgres(db) else "'reading'"
    found = db.execute(text(f"SELECT seq, channel, {table} FROM reading"))
    return {(seq, channel): name for seq, channel, name in found}
