"""The daily conservation check of every point in service, kept per point and day for operators."""
import logging
from datetime import date, datetime, time, timedelta

from sqlmodel import Session, col, select

from backend.core.clock import LOCAL_TZ, utcnow
from backend.core.errors import Conflict
from backend.core.rows import insert_once
from backend.points.models import Meter, MeteringPoint, PointStatus
from backend.reconciliation.models import DailyReconciliation
from backend.reconciliation.service import PointReconciliation, reconcile

log = logging.getLogger(__name__)
IN_SERVICE = (PointStatus.active, PointStatus.closed, PointStatus.expired)
CATCH_UP_DAYS = 7  # days missed while no scheduler ran are checked too, up to this far back


def points_in_service(db: Session, first: date, last: date) -> list[MeteringPoint]:
    """Points with a meter whose validity overlaps [first, last]."""
    query = (select(MeteringPoint).join(Meter, col(Meter.point_id) == MeteringPoint.id)
             .where(col(MeteringPoint.status).in_(IN_SERVICE), MeteringPoint.valid_from <= last,
                    MeteringPoint.valid_until >= first).order_by(MeteringPoint.id))
    return list(db.exec(query))


def reconcile_day(db: Session, day: date) -> list[DailyReconciliation]:
    """Check every point in service on `day` and keep the outcome (a rerun replaces the day's rows)."""
    rows = [reconcile_point_day(db, point.id, day) for point in points_in_service(db, day, day)]
    unbalanced = [r.point_id for r in rows if not r.balanced]
    if unbalanced:
        log.warning("reconciliation of %s: %d of %d points unbalanced: %s", day, len(unbalanced), len(rows),
                    unbalanced[:20])
    return rows


def reconcile_days_due(db: Session, now: datetime) -> list[DailyReconciliation]:
    """The scheduled run: yesterday, and any of the week before it that was never checked."""
    yesterday = now.astimezone(LOCAL_TZ).date() - timedelta(days=1)
    earlier = {yesterday - timedelta(days=n) for n in range(1, CATCH_UP_DAYS)}
    done = set(db.exec(select(DailyReconciliation.day).where(col(DailyReconciliation.day).in_(earlier)).distinct()))
    rows = []
    for day in sorted(earlier - done) + [yesterday]:
        rows += reconcile_day(db, day)
    return rows


def unbalanced_days(db: Session, since: date) -> list[DailyReconciliation]:
    query = (select(DailyReconciliation).where(DailyReconciliation.day >= since,
                                               DailyReconciliation.balanced.is_(False))
             .order_by(col(DailyReconciliation.day).desc(), DailyReconciliation.point_id))
    return list(db.exec(query))


def reconcile_point_day(db: Session, point_id: int, day: date) -> DailyReconciliation:
    """One point's day, checked and kept; a point that cannot be checked (no tariff in effect) is kept unbalanced."""
    start = datetime.combine(day, time(), LOCAL_TZ)
    row = _row(db, point_id, day)
    try:
        result = reconcile(db, point_id, start, start + timedelta(days=1))
    except Conflict as exc:
        row.balanced, row.note, row.checked_at = False, f"not checked: {exc.detail}"[:1000], utcnow()
        db.add(row)
        db.flush()
        return row
    return _keep(db, row, result)


def _row(db: Session, point_id: int, day: date) -> DailyReconciliation:
    insert_once(db, DailyReconciliation(point_id=point_id, day=day), "point_id", "day")
    return db.exec(select(DailyReconciliation).where(DailyReconciliation.point_id == point_id,
                                                     DailyReconciliation.day == day)
                   .execution_options(populate_existing=True)).one()


def _keep(db: Session, row: DailyReconciliation, result: PointReconciliation) -> DailyReconciliation:
    mismatched = [s for s in result.gaps if s.settled_wh is not None]
    reasons = [s.reason for s in mismatched] + [f"outlet {ch}: {a.reason}"
                                                for ch, a in result.anomalies]
    row.register_delta_wh, row.session_energy_wh = result.register_delta_wh, result.session_energy_wh
    row.unattributed_wh, row.gap_wh = result.unattributed_wh, result.gap_wh
    row.open_sessions = sum(1 for s in result.gaps if s.settled_wh is None)
    row.mismatched_sessions, row.anomalies = len(mismatched), len(result.anomalies)
    row.balanced = not mismatched and not result.anomalies
    row.note, row.checked_at = "; ".join(reasons)[:1000], utcnow()
    db.add(row)
    db.flush()
    return row
