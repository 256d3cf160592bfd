"""Where a vendor's money went: each wallet movement with the payment or refund behind it, the money that never
passed through the wallet (what a hold charged, and refunds of it), and how one session was paid and paid back."""
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlmodel import Session, select

from backend.core.clock import as_utc
from backend.sessions.models import SessionStatus, UsageSession
from backend.sessions.refunds import refunded_to_wallet
from backend.sessions.service import hold_of
from backend.sessions.settlement import NEVER_STARTED, UNUSED, billed_so_far
from billing.ledger import service as ledger
from billing.ledger.history import Movement, movements
from billing.payments.models import Hold, HoldStatus, Payment, PaymentPurpose, PaymentStatus, Refund
from billing.payments.withdrawals import REASON as WITHDRAWAL

ZERO = Decimal("0.00")
# What a refund was for, by what it refunds and why (our own reasons are fixed words).
WITHDRAWN, UNUSED_BACK, REFUNDED = "withdrawal", "unused_back", "refund"


@dataclass(frozen=True)
class TrailItem:
    """One movement of a vendor's money, newest first in a trail."""

    at: datetime
    # top_up, paid_ahead (a session paid ahead), settlement, adjustment, session_refund (into the wallet),
    # hold_wallet_charge, withdrawal, unused_back, refund (to the provider), refund_failed, hold_capture
    kind: str
    amount: Decimal  # to the vendor (+) or away from them (−)
    session_id: int | None
    balance_after: Decimal | None  # None: money that never passed through the wallet
    provider: str | None = None  # stripe, wechat, alipay, demo
    state: str | None = None  # a refund's: pending, succeeded, failed


def money_trail(db: Session, vendor_id: int, limit: int = 30) -> list[TrailItem]:
    """The vendor's latest movements of money, wallet or not, each naming where it came from or went."""
    shown = movements(db, ledger.find_account(db, f"wallet:{vendor_id}"), limit)
    wallet = _explained(db, shown)
    outside = _outside_wallet(db, vendor_id, limit)
    return sorted(wallet + outside, key=lambda item: as_utc(item.at), reverse=True)[:limit]


def refund_purpose(refund: Refund, target: Payment | Hold | None) -> str:
    """A withdrawal (of a top-up), the unused part of a session paid ahead, or a refund of what was charged."""
    if isinstance(target, Payment) and target.purpose is PaymentPurpose.top_up and refund.reason.startswith(WITHDRAWAL):
        return WITHDRAWN
    if isinstance(target, Payment) and refund.reason.startswith((UNUSED, NEVER_STARTED)):
        return UNUSED_BACK
    return REFUNDED


@dataclass(frozen=True)
class SessionMoney:
    """How one session was paid, and every part of that money sent back."""

    provider: str | None  # None: from the wallet
    hold: Hold | None
    prepayment: Payment | None  # paid ahead in WeChat Pay or Alipay
    refunds: list[tuple[Refund, str]]  # back to the provider, with each one's purpose
    unused_due: Decimal  # a prepayment's unused part that goes back by itself, not sent yet
    to_wallet: Decimal  # refunded into the wallet (a session paid from it)


def session_money(db: Session, session: UsageSession) -> SessionMoney:
    hold = hold_of(db, session.id)
    prepayment = db.exec(select(Payment).where(Payment.session_id == session.id,
                                               Payment.purpose == PaymentPurpose.session,
                                               Payment.status == PaymentStatus.succeeded)).first()
    paid = hold or prepayment
    refunds = [] if paid is None else [(r, refund_purpose(r, paid)) for r in _refunds_of(db, [paid.external_id])]
    due = ZERO
    if prepayment is not None and prepayment.settled_at is None and session.status == SessionStatus.completed:
        due = max(prepayment.amount - billed_so_far(db, session), ZERO)
    to_wallet = ZERO if prepayment is not None else refunded_to_wallet(db, session.id)
    return SessionMoney(paid.provider if paid else None, hold, prepayment, refunds, due, to_wallet)


def _explained(db: Session, shown: list[Movement]) -> list[TrailItem]:
    """Wallet movements, each with the payment or refund its entry names."""
    keys = [m.key for m in shown]
    paid = _by(db, Payment, [k.removeprefix("topup:") for k in keys if k.startswith("topup:")])
    refund_ids = [k.split(":", 1)[1] for k in keys if k.startswith(("refund:", "refund-failed:"))]
    refunds = {r.external_id: r for r in _by_ids(db, refund_ids)}
    targets = _by(db, Payment, [r.payment_external_id for r in refunds.values()])
    return [_item(m, paid, refunds, targets) for m in shown]


def _item(m: Movement, paid: dict[str, Payment], refunds: dict[str, Refund],
          targets: dict[str, Payment]) -> TrailItem:
    kind, provider, state, session_id = m.kind, None, None, m.session_id
    if m.key.startswith("topup:") and (payment := paid.get(m.key.removeprefix("topup:"))) is not None:
        kind = "paid_ahead" if payment.purpose is PaymentPurpose.session else "top_up"
        provider, session_id = payment.provider, session_id or payment.session_id
    elif m.key.startswith(("refund:", "refund-failed:")) and (refund := refunds.get(m.key.split(":", 1)[1])):
        failed, target = m.key.startswith("refund-failed:"), targets.get(refund.payment_external_id)
        kind = "refund_failed" if failed else refund_purpose(refund, target)
        provider, state = refund.provider, (None if failed else refund.status.value)
        session_id = session_id or (target.session_id if target is not None else None)
    elif m.kind == "withdrawal":
        provider = "demo"
    return TrailItem(m.at, kind, m.amount, session_id, m.balance_after, provider, state)


def _outside_wallet(db: Session, vendor_id: int, limit: int) -> list[TrailItem]:
    """What holds charged, and refunds of it: the vendor's money that never passed through the wallet."""
    holds = list(db.exec(select(Hold).where(Hold.user_id == vendor_id, Hold.status == HoldStatus.captured,
                                            Hold.captured_amount > 0).order_by(Hold.id.desc()).limit(limit)))
    found = [TrailItem(h.closed_at or h.created_at, "hold_capture", -h.captured_amount, h.session_id, None, h.provider)
             for h in holds]
    by_number = {h.external_id: h for h in holds}
    for refund in _refunds_of(db, list(by_number)):
        hold = by_number[refund.payment_external_id]
        found.append(TrailItem(refund.created_at, REFUNDED, refund.amount, hold.session_id, None, refund.provider,
                               refund.status.value))
    return found


def _refunds_of(db: Session, numbers: list[str]) -> list[Refund]:
    if not numbers:
        return []
    return list(db.exec(select(Refund).where(Refund.payment_external_id.in_(numbers)).order_by(Refund.id)))


def _by(db: Session, model, numbers: list[str]) -> dict:
    if not numbers:
        return {}
    return {row.external_id: row for row in db.exec(select(model).where(model.external_id.in_(numbers)))}


def _by_ids(db: Session, numbers: list[str]) -> list[Refund]:
    return list(_by(db, Refund, numbers).values())
