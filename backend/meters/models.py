from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.core.clock import utcnow
from backend.core.types import BigInt

SAMPLE_CHARS = 512  # of a quarantined payload: enough to see what was wrong, not a place to store data


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


class RejectionKind(StrEnum):
    bad_message = "bad_message"  # breaks protocol v1 (topic, JSON, fields, timestamp)
    unknown_meter = "unknown_meter"
    internal_error = "internal_error"  # a service raised while applying it
    rate_limited = "rate_limited"  # dropped unread: the meter sent faster than its limit
    unsorted = "unsorted"  # stored one row per message before migration 0010, reason not classified


class QuarantineEntry(SQLModel, table=True):
    """Messages the gateway refused, counted per source and kind, with the first and the latest as samples."""

    __tablename__ = "quarantine_entry"
    __table_args__ = (UniqueConstraint("source", "kind", name="uq_quarantine_source_kind"),)
    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=255)  # the meter serial the topic names, else the topic
    # Plain text, not a database enum, so a new kind needs no migration.
    kind: RejectionKind = Field(sa_type=String(24))
    count: int = Field(sa_type=BigInteger)
    first_at: datetime
    last_at: datetime = Field(index=True)
    first_topic: str = Field(max_length=255)
    first_reason: str = Field(max_length=1000)
    first_payload: str = Field(max_length=SAMPLE_CHARS)
    last_topic: str = Field(max_length=255)
    last_reason: str = Field(max_length=1000)
    last_payload: str = Field(max_length=SAMPLE_CHARS)
