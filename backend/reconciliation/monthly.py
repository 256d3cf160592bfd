"""Closing a month: each point's statement kept, and its unattributed energy billed to the applicant once."""
import logging
from datetime import datetime

from sqlmodel import Session, select

from backend.core.clock import LOCAL_TZ, local, utcnow
from backend.core.errors import Conflict
from backend.core.rows import insert_once
from backend.reconciliation.daily import points_in_service
from backend.reconciliation.models import MonthlyStatement
from backend.reconciliation.service import bill_unattributed, month_period, statement

log = logging.getLogger(__name__)


def previous_month(now: datetime) -> str:
    here = now.astimezone(LOCAL_TZ)
    year, month = (here.year, here.month - 1) if here.month > 1 else (here.year - 1, 12)
    return f"{year:04d}-{month:02d}"


def close_month(db: Session, month: str, now: datetime | None = None) -> list[MonthlyStatement]:
    """Every point in service in `month`: its statement kept, its unattributed energy billed (once, by key)."""
    period = month_period(month)
    first, last = local(period.start).date(), local(period.end).date()
    rows = []
    for point in points_in_service(db, first, last):
        note, bill = "", None
        if point.tariff_id is not None:
            try:
                # Its refusals come before it writes anything, so the month's other points go on without a savepoint
                # (which SQLite's driver would commit on release).
                bill = bill_unattributed(db, point.id, period.start, period.end, now or utcnow())
            except Conflict as exc:
                note = f"{type(exc).__name__}: {exc.detail}"
                log.warning("point %s, %s: unattributed energy not billed: %s", point.id, month, note)
        try:
            found = statement(db, point, month)
        except Conflict as exc:
            log.warning("point %s, %s: no statement: %s", point.id, month, exc.detail)
            found, note = None, f"{type(exc).__name__}: {exc.detail}"
        rows.append(_keep(db, point.id, month, found, bill, note))
    return rows


def close_previous_month(db: Session, now: datetime) -> list[MonthlyStatement]:
    """The scheduled run, early in a month: the month before."""
    return close_month(db, previous_month(now), now)


def _keep(db: Session, point_id: int, month: str, found, bill, note: str) -> MonthlyStatement:
    insert_once(db, MonthlyStatement(point_id=point_id, month=month), "point_id", "month")
    row = db.exec(select(MonthlyStatement).where(MonthlyStatement.point_id == point_id,
                                                 MonthlyStatement.month == month)
                  .execution_options(populate_existing=True)).one()
    if found is not None:
        result = found.reconciliation
        row.register_delta_wh, row.session_energy_wh = result.register_delta_wh, result.session_energy_wh
        row.unattributed_wh, row.gap_wh, row.collected = result.unattributed_wh, result.gap_wh, result.collected
    row.unattributed_amount = bill.amount if bill else None
    row.bill_entry_id = bill.entry_id if bill else None
    row.note, row.closed_at = note[:255], utcnow()
    db.add(row)
    db.flush()
    return row


def statements_of_month(db: Session, month: str) -> list[MonthlyStatement]:
    return list(db.exec(select(MonthlyStatement).where(MonthlyStatement.month == month)
                        .order_by(MonthlyStatement.point_id)))
