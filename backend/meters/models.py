from datetime import datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.core.clock import utcnow
from backend.core.types import BigInt


class Reading(SQLModel, table=True):
    """One outlet's registers at one telemetry message; unique per meter boot and sequence."""

    __table_args__ = (UniqueConstraint("meter_id", "boot_id", "seq", "channel", name="uq_reading_identity"),
                      # Reconciliation walks one outlet's readings in time order.
                      Index("ix_reading_outlet_time", "meter_id", "channel", "device_time"))
    id: int | None = Field(default=None, primary_key=True, sa_type=BigInt)
    meter_id: int = Field(foreign_key="meter.id", index=True)
    boot_id: str = Field(max_length=64)
    seq: int = Field(sa_type=BigInt)
    channel: int
    device_time: datetime
    received_at: datetime = Field(default_factory=utcnow)
    energy_wh: int = Field(sa_type=BigInt)
    power_w: float
    voltage_v: float
    current_a: float
    relay_closed: bool
    session_id: int | None = Field(default=None, foreign_key="usage_session.id", index=True, sa_type=BigInt)


class RejectedMessage(SQLModel, table=True):
    """A message the gateway could not accept, kept for operators to inspect."""

    __tablename__ = "rejected_message"
    id: int | None = Field(default=None, primary_key=True)
    topic: str = Field(max_length=255)
    reason: str = Field(max_length=1000)
    payload: str = Field(max_length=4096)
    received_at: datetime = Field(default_factory=utcnow)
