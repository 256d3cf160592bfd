"""The daily reconciliation (对账): each provider's statement of a day against our books, differences kept."""
import logging
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import delete
from sqlmodel import Session, select

from backend.audit.service import record, snapshot
from backend.core.clock import LOCAL_TZ, local_today, utcnow
from backend.core.errors import NotFound
from backend.core.rows import insert_once
from backend.users.models import User
from billing.payments.interface import PaymentProvider, StatementKind, from_fen, to_fen
from billing.payments.models import (Hold, HoldStatus, Payment, PaymentDifference, PaymentStatus, Refund,
                                     RefundStatus, StatementCheck)
from billing.payments.providers import PaymentMethodUnavailable, Providers
from billing.payments.reconciliation import Booked, compare

log = logging.getLogger(__name__)
MARGIN = timedelta(days=1)  # a statement line may match an entry we booked a little before or after its day
CHECK_FIELDS = ("lines", "matched", "differences")


class StatementDayNotOver(NotFound):
    """A statement exists only for a day that has ended (in China time)."""


def reconcile_now(db: Session, providers: Providers, name: str, day: date, operator: User) -> StatementCheck:
    """An operator fetches one provider's statement of a past day now; the audit log keeps what it found."""
    if day >= local_today():
        raise StatementDayNotOver(f"the statement of {day} is not out yet; days before {local_today()} have one")
    provider = providers.named(name)
    if not provider.capabilities.statement:
        raise PaymentMethodUnavailable(f"{name} has no daily statement; its books follow its events")
    return reconcile_day(db, provider, day, operator)


def reconcile_day(db: Session, provider: PaymentProvider, day: date, actor: User | None = None) -> StatementCheck:
    """Fetch the provider's statement of `day`, compare, and keep the result (a rerun replaces it)."""
    earlier = _check(db, provider.name, day)
    before = snapshot(earlier, CHECK_FIELDS) if earlier is not None else None
    statement = provider.statement(day)
    start, end = _bounds(day)
    nearby = _books(db, provider.name, start - MARGIN, end + MARGIN)
    of_the_day = {(b.kind, b.reference) for b in _books(db, provider.name, start, end)}
    listed = {(line.kind, line.external_id) for line in statement}
    books = [b for b in nearby if (b.kind, b.reference) in of_the_day | listed]
    matched, differences = compare(statement, books)
    insert_once(db, StatementCheck(provider=provider.name, day=day), "provider", "day")
    check = _check(db, provider.name, day)
    check.lines, check.matched, check.differences, check.checked_at = (len(statement), matched, len(differences),
                                                                       utcnow())
    db.add(check)
    db.exec(delete(PaymentDifference).where(PaymentDifference.provider == provider.name,
                                            PaymentDifference.day == day))
    for found in differences:
        db.add(PaymentDifference(provider=provider.name, day=day, kind=found.kind.value, reference=found.reference,
                                 provider_amount=_yuan(found.provider_fen), book_amount=_yuan(found.book_fen),
                                 detail=found.detail[:255]))
    db.flush()
    if differences:
        log.warning("%s statement of %s: %d differences", provider.name, day, len(differences))
    record(db, actor, "payments.reconcile", "statement", check.id, before, snapshot(check, CHECK_FIELDS),
           f"{provider.name} {day}")
    return check


def _check(db: Session, provider: str, day: date) -> StatementCheck | None:
    return db.exec(select(StatementCheck).where(StatementCheck.provider == provider, StatementCheck.day == day)
                   .execution_options(populate_existing=True)).first()


def reconcile_yesterday(db: Session, providers: Providers) -> list[StatementCheck]:
    """The scheduled run: yesterday's statement of every provider that has one."""
    day = local_today() - timedelta(days=1)
    return [reconcile_day(db, p, day) for p in providers if p.capabilities.statement]


def _books(db: Session, provider: str, start: datetime, end: datetime) -> list[Booked]:
    paid = db.exec(select(Payment).where(Payment.provider == provider, Payment.status == PaymentStatus.succeeded,
                                         Payment.paid_at >= start, Payment.paid_at < end))
    captured = db.exec(select(Hold).where(Hold.provider == provider, Hold.status == HoldStatus.captured,
                                          Hold.closed_at >= start, Hold.closed_at < end))
    refunded = db.exec(select(Refund).where(Refund.provider == provider, Refund.status == RefundStatus.succeeded,
                                            Refund.finished_at >= start, Refund.finished_at < end))
    return ([Booked(StatementKind.payment, p.external_id, to_fen(p.amount)) for p in paid]
            + [Booked(StatementKind.payment, h.external_id, to_fen(h.captured_amount)) for h in captured]
            + [Booked(StatementKind.refund, r.external_id, to_fen(r.amount)) for r in refunded])


def _bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(), LOCAL_TZ)
    return start, start + timedelta(days=1)


def _yuan(fen: int | None) -> Decimal | None:
    return None if fen is None else from_fen(fen)
