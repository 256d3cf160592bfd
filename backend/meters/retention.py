"""Retiring old readings: whole monthly partitions past the retention, never one that work still needs.

A month is retired only when every point in service in it has its monthly statement closed (its reconciliation
is done) and no session that began before the month's end is still unsettled (open, or waiting for an operator's
review). The daily totals (`reading_day`) are not partitioned and stay. Months go oldest first; the first month
still needed stops the run, so the readings kept are always one unbroken stretch. docs/operations.md describes
the setting.
"""
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from backend.meters.partitions import Month, attached_months, detach_partition, is_partitioned
from backend.reconciliation.daily import points_in_service
from backend.reconciliation.models import MonthlyStatement
from backend.sessions.models import OPEN_STATUSES, UsageSession

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Retired:
    months: list[Month]
    kept_because: str  # why the oldest month left is still needed; "" when nothing past the retention is left


def oldest_month_kept(now: datetime, months: int) -> Month:
    """The oldest month a retention of `months` keeps (this month counts as the first)."""
    return Month.of(now).plus(1 - months)


def retire_old_readings(db: Session, now: datetime, months: int, drop: bool = True) -> Retired:
    """Detach (and drop) the monthly partitions older than the retention that nothing needs any more."""
    if months <= 0 or not is_partitioned(db):
        return Retired([], "")
    keep_from = oldest_month_kept(now, months)
    retired = []
    for month in attached_months(db):
        if month >= keep_from:
            break
        reason = still_needed(db, month)
        if reason:
            log.info("reading partition %s is past the retention but kept: %s", month.table, reason)
            return Retired(retired, reason)
        detach_partition(db, month, drop)
        retired.append(month)
        log.info("reading partition %s %s", month.table, "dropped" if drop else "detached")
    return Retired(retired, "")


def still_needed(db: Session, month: Month) -> str:
    """Why the month's raw readings must stay; "" when nothing needs them."""
    return _unsettled_session(db, month) or _statement_missing(db, month)


def _unsettled_session(db: Session, month: Month) -> str:
    began = func.coalesce(UsageSession.started_at, UsageSession.requested_at)
    found = db.exec(select(UsageSession.id).where(
        began < month.end, or_(col(UsageSession.status).in_(OPEN_STATUSES), col(UsageSession.needs_review).is_(True)))
        .order_by(UsageSession.id).limit(1)).first()
    return f"session {found} began before {month.end:%Y-%m-%d} and is not settled" if found is not None else ""


def _statement_missing(db: Session, month: Month) -> str:
    last_day = month.plus(1).first_day - timedelta(days=1)
    label = f"{month.year:04d}-{month.month:02d}"
    closed = set(db.exec(select(MonthlyStatement.point_id).where(MonthlyStatement.month == label)))
    missing = [p.id for p in points_in_service(db, month.first_day, last_day) if p.id not in closed]
    return f"the statement of {label} is not closed for point {missing[0]}" if missing else ""

