"""What an operator looks at on one meter: its outlets' recent readings and the messages of it that were refused."""
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from backend.meters.models import QuarantineEntry, Reading

MAX_SAMPLES = 240  # per curve: enough for a smooth line, few enough for a phone


@dataclass(frozen=True)
class Sample:
    at: datetime
    power_w: float
    voltage_v: float
    current_a: float
    energy_wh: int
    relay_closed: bool


def samples(db: Session, meter_id: int, channel: int, start: datetime, end: datetime) -> list[Sample]:
    """The outlet's readings in [start, end) by device time, thinned evenly to at most MAX_SAMPLES."""
    window = (Reading.meter_id == meter_id, Reading.channel == channel, Reading.device_time >= start,
              Reading.device_time < end)
    count = db.exec(select(func.count()).select_from(Reading).where(*window)).one()
    step = max(1, -(-count // MAX_SAMPLES))
    query = (select(Reading.device_time, Reading.power_w, Reading.voltage_v, Reading.current_a, Reading.energy_wh,
                    Reading.relay_closed).where(*window).order_by(Reading.device_time, Reading.id))
    return [Sample(*row) for index, row in enumerate(db.exec(query)) if index % step == 0]


def latest_by_channel(db: Session, meter_id: int) -> dict[int, Sample]:
    """Each outlet's newest reading."""
    newest = (select(Reading.channel, func.max(Reading.id).label("id")).where(Reading.meter_id == meter_id)
              .group_by(Reading.channel).subquery())
    query = (select(Reading.channel, Reading.device_time, Reading.power_w, Reading.voltage_v, Reading.current_a,
                    Reading.energy_wh, Reading.relay_closed).join(newest, col(Reading.id) == newest.c.id))
    return {channel: Sample(*rest) for channel, *rest in db.exec(query)}


def rejections_of(db: Session, serial: str) -> list[QuarantineEntry]:
    """The quarantine's counts for this meter, by kind."""
    query = select(QuarantineEntry).where(QuarantineEntry.source == serial)
    return list(db.exec(query.order_by(col(QuarantineEntry.last_at).desc())))
