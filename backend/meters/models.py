from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.core.clock import utcnow
from backend.core.types import BigInt

SAMPLE_CHARS = 512  # of a quarantined payload: enough to see what was wrong, not a place to store data


class Reading(SQLModel, table=True):
    """One outlet's registers at one telemetry message; unique per meter boot and sequence.

    On PostgreSQL the table is partitioned by month of `device_time` (backend/meters/partitions.py), so its
    unique key includes the device time: a repeated message carries the same time and is still stored once.
    """

    __table_args__ = (UniqueConstraint("meter_id", "boot_id", "seq", "channel", "device_time",
                                       name="uq_reading_identity"),
                      # Reconciliation walks one outlet's readings in time order.
                      Index("ix_reading_outlet_time", "meter_id", "channel", "device_time"),
                      # Readings arrive in time order, so a BRIN index finds a day's rows at a tiny size.
                      Index("ix_reading_device_time", "device_time", postgresql_using="brin"))
    id: int | None = Field(default=None, primary_key=True, sa_type=BigInt)
    meter_id: int = Field(foreign_key="meter.id")
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


class ReadingDay(SQLModel, table=True):
    """One outlet's readings of one local day, summed (backend/meters/daily_totals.py).

    `clean` days (one boot, the register rising within the outlet's physical limit, no step across a local
    hour) stand in for their raw rows in reconciliation; any other day is read raw.
    """

    __tablename__ = "reading_day"
    __table_args__ = (UniqueConstraint("meter_id", "channel", "day", name="uq_reading_day"),)
    id: int | None = Field(default=None, primary_key=True, sa_type=BigInt)
    meter_id: int = Field(foreign_key="meter.id")
    channel: int
    day: date = Field(index=True)  # the roll-up replaces a whole day
    readings: int
    first_at: datetime
    first_wh: int = Field(sa_type=BigInt)
    first_boot: str = Field(max_length=64)
    last_at: datetime
    last_wh: int = Field(sa_type=BigInt)
    last_boot: str = Field(max_length=64)
    energy_wh: int = Field(sa_type=BigInt)  # Σ of the day's rising steps, from its first reading to its last
    clean: bool
    # Rising steps per local hour: [[first step's start, last step's end, Wh], ...] (ISO 8601), for pricing.
    hours: list = Field(default_factory=list, sa_type=JSON)


class ReadingDayDue(SQLModel, table=True):
    """A local day whose totals are up to date (`done`) or must be rolled up again (a late reading came)."""

    __tablename__ = "reading_day_due"
    day: date = Field(primary_key=True)
    done: bool = False
    changed_at: datetime = Field(default_factory=utcnow)


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
