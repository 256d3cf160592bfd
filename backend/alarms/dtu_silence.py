"""The DTU-silent alarm: open while the DL/T 645 bridge hears nothing from a point's DTU.

The bridge decides when a DTU is silent (device_gateway/dlt645/bridge.py); this module only records it
where operators look for trouble, beside the power-quality alarms of the point.
"""
from datetime import datetime
from decimal import Decimal

from sqlmodel import Session, col, select

from backend.alarms import rules
from backend.alarms.models import Alarm
from backend.alarms.rules import AlarmKind
from backend.core.clock import as_utc
from backend.points.models import Meter


def dtu_silent(db: Session, meter: Meter, since: datetime, after_s: Decimal) -> Alarm:
    """Open the meter's DTU-silent alarm, once."""
    alarm = open_silence_alarm(db, meter.id)
    if alarm is None:
        alarm = Alarm(point_id=meter.point_id, meter_id=meter.id, channel=None, kind=AlarmKind.dtu_silent,
                      opened_at=since, limit_value=after_s, message=rules.describe(AlarmKind.dtu_silent, None, after_s))
        db.add(alarm)
        db.flush()
    return alarm


def dtu_heard(db: Session, meter: Meter, at: datetime) -> Alarm | None:
    """Close the alarm: the DTU answers again."""
    alarm = open_silence_alarm(db, meter.id)
    if alarm is not None:
        alarm.closed_at = max(as_utc(at), as_utc(alarm.opened_at))
    return alarm


def open_silence_alarm(db: Session, meter_id: int) -> Alarm | None:
    query = select(Alarm).where(Alarm.meter_id == meter_id, Alarm.kind == AlarmKind.dtu_silent,
                                col(Alarm.closed_at).is_(None))
    return db.exec(query).first()
