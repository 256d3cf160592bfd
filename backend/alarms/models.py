"""Alarms as stored (start, end, worst value), and the small state that decides when they open and close."""
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Index, String, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from backend.alarms.rules import AlarmKind
from backend.core.types import BigInt, ExactDecimal

POINT_CHANNEL = 0  # the watch of a point-level kind; outlets are channels 1–32

OPEN_OUTLET_SQL = text("closed_at IS NULL AND channel IS NOT NULL")
OPEN_POINT_SQL = text("closed_at IS NULL AND channel IS NULL")


class AlarmBase(SQLModel):
    point_id: int = Field(foreign_key="metering_point.id", index=True)
    meter_id: int = Field(foreign_key="meter.id", index=True)
    channel: int | None = None  # None: the alarm is about the whole point
    # Plain text, not a database enum, so a new kind needs no migration.
    kind: AlarmKind = Field(sa_type=String(24))
    opened_at: datetime = Field(index=True)
    closed_at: datetime | None = None
    worst_value: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    limit_value: Decimal = Field(sa_type=ExactDecimal)
    message: str = Field(max_length=255)


class Alarm(AlarmBase, table=True):
    # The database itself refuses two open alarms of one kind on one outlet (or one point).
    __table_args__ = (
        Index("uq_open_alarm_per_outlet", "meter_id", "channel", "kind", unique=True,
              postgresql_where=OPEN_OUTLET_SQL, sqlite_where=OPEN_OUTLET_SQL),
        Index("uq_open_alarm_per_point", "meter_id", "kind", unique=True,
              postgresql_where=OPEN_POINT_SQL, sqlite_where=OPEN_POINT_SQL),
    )
    id: int | None = Field(default=None, primary_key=True, sa_type=BigInt)


class AlarmPublic(AlarmBase):
    id: int


class AlarmsPublic(SQLModel):
    data: list[AlarmPublic]
    count: int


class AlarmWatch(SQLModel, table=True):
    """rules.Watch of one (meter, channel, kind), kept only while something is pending or open."""

    __tablename__ = "alarm_watch"
    __table_args__ = (UniqueConstraint("meter_id", "channel", "kind", name="uq_alarm_watch"),)
    id: int | None = Field(default=None, primary_key=True)
    meter_id: int = Field(foreign_key="meter.id")
    channel: int  # POINT_CHANNEL for point-level kinds
    kind: AlarmKind = Field(sa_type=String(24))
    alarm_id: int | None = Field(default=None, foreign_key="alarm.id", sa_type=BigInt)
    run: int = 0
    run_started_at: datetime | None = None
    worst: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    # The newest sample applied; older or repeated samples (late uploads, duplicates) are not counted again.
    last_at: datetime


class PointOutage(SQLModel):
    point_id: int
    name: str
    outages: int
    outage_hours: float


class Reliability(SQLModel):
    """供电可靠性 of the period: average outage hours per point in service, and the share of time supplied."""

    start: datetime
    end: datetime
    points: int
    total_outage_hours: float
    average_outage_hours: float
    availability: float  # RS-1 style: 1 − average outage hours / hours in the period
    per_point: list[PointOutage]
