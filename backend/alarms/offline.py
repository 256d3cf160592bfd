"""The meter-offline alarm: open while a meter of a live point has been silent for longer than it may be.

The broker's last will marks most meters offline at once; this alarm is for operators, who need to know
which points cannot take sessions, and for the meters whose will never came (a broker restarted without
its sessions, a gateway that was away when it was sent).
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


def meter_silent(db: Session, meter: Meter, since: datetime, silent_after_s: int) -> bool:
    """Open the meter's offline alarm from the moment it was last heard; False if one is open already."""
    limit = Decimal(silent_after_s)
    return insert_once(db, Alarm(point_id=meter.point_id, meter_id=meter.id, channel=None,
                                 kind=AlarmKind.meter_offline, opened_at=as_utc(since), limit_value=limit,
                                 message=rules.describe(AlarmKind.meter_offline, None, limit)),
                       "meter_id", "kind", where=OPEN_POINT_SQL)


def meter_back(db: Session, meter: Meter, at: datetime) -> Alarm | None:
    """Close the meter's offline alarm: it has spoken again."""
    alarm = db.exec(select(Alarm).where(Alarm.meter_id == meter.id, Alarm.kind == AlarmKind.meter_offline,
                                        col(Alarm.closed_at).is_(None))).first()
    if alarm is not None:
        alarm.closed_at = max(as_utc(at), as_utc(alarm.opened_at))
    return alarm
