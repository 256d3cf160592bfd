"""Meters silent past their interval: marked offline (so no session starts on them) with an alarm for operators."""
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from backend.alarms import offline
from backend.alarms.models import Alarm
from backend.alarms.rules import AlarmKind
from backend.points.models import Meter, MeteringPoint, PointStatus

LIVE = (PointStatus.approved, PointStatus.active)


def mark_silent_meters(db: Session, now: datetime, silent_after_s: int) -> list[Meter]:
    """Meters of live points not heard from for `silent_after_s`: offline, and an alarm once per silence."""
    cutoff = now - timedelta(seconds=silent_after_s)
    alarmed = select(Alarm.id).where(Alarm.meter_id == Meter.id, Alarm.kind == AlarmKind.meter_offline,
                                     col(Alarm.closed_at).is_(None))
    # Locked: a meter heard from meanwhile (the gateway writes last_seen) drops out of the query instead.
    query = (select(Meter).join(MeteringPoint, col(MeteringPoint.id) == Meter.point_id)
             .where(col(MeteringPoint.status).in_(LIVE), col(Meter.last_seen).is_not(None),
                    col(Meter.last_seen) < cutoff, ~alarmed.exists())
             .with_for_update(of=Meter))
    silent = list(db.exec(query))
    for meter in silent:
        meter.online = False
        offline.meter_silent(db, meter, meter.last_seen, silent_after_s)
    return silent
