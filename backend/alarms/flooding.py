"""The meter-flooding alarm: open while the gateway drops a meter's messages over its rate limit.

The gateway decides when a flood begins and ends (device_gateway/flood_watch.py); this module only
records it where operators look for trouble, beside the power-quality alarms of the point.
"""
from datetime import datetime
from decimal import Decimal

from sqlmodel import Session, col, select

from backend.alarms import rules
from backend.alarms.models import OPEN_POINT_SQL, Alarm
from backend.alarms.rules import AlarmKind
from backend.core.clock import as_utc
from backend.core.rows import insert_once
from backend.points.models import Meter


def flooding(db: Session, meter: Meter, since: datetime, limit_per_s: Decimal, peak_per_s: int) -> Alarm:
    """Open the meter's flooding alarm if none is open, and keep the highest rate seen as its worst value."""
    if open_flooding_alarm(db, meter.id) is None:
        # Several gateways may see one meter's flood at once: the partial unique index keeps one alarm open.
        insert_once(db, Alarm(point_id=meter.point_id, meter_id=meter.id, channel=None, kind=AlarmKind.meter_flooding,
                              opened_at=since, limit_value=limit_per_s,
                              message=rules.describe(AlarmKind.meter_flooding, None, limit_per_s)),
                    "meter_id", "kind", where=OPEN_POINT_SQL)
    alarm = open_flooding_alarm(db, meter.id)
    alarm.worst_value = max(alarm.worst_value or Decimal(0), Decimal(peak_per_s))
    db.flush()
    return alarm


def calmed(db: Session, meter: Meter, at: datetime, peak_per_s: int) -> Alarm | None:
    """Close the meter's flooding alarm: it has kept within its limit for a while."""
    alarm = open_flooding_alarm(db, meter.id)
    if alarm is not None:
        alarm.worst_value = max(alarm.worst_value or Decimal(0), Decimal(peak_per_s))
        alarm.closed_at = max(as_utc(at), as_utc(alarm.opened_at))
    return alarm


def close_every_flooding_alarm(db: Session, at: datetime) -> int:
    """A gateway starting afresh knows of no flood; one still going on opens its alarm again."""
    found = list(db.exec(select(Alarm).where(Alarm.kind == AlarmKind.meter_flooding,
                                             col(Alarm.closed_at).is_(None))))
    for alarm in found:
        alarm.closed_at = max(as_utc(at), as_utc(alarm.opened_at))
    return len(found)


def open_flooding_alarm(db: Session, meter_id: int) -> Alarm | None:
    query = select(Alarm).where(Alarm.meter_id == meter_id, Alarm.kind == AlarmKind.meter_flooding,
                                col(Alarm.closed_at).is_(None))
    return db.exec(query).first()


def flooding_meter_ids(alarms: list[Alarm]) -> set[int]:
    """Meters with an open flooding alarm among these alarms."""
    return {a.meter_id for a in alarms if a.kind == AlarmKind.meter_flooding and a.closed_at is None}
