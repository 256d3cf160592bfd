"""An operator refunds a settled session, fully or in part, with a reason."""
from decimal import Decimal

from pydantic import Field
from sqlalchemy import func
from sqlmodel import Session, SQLModel, select

from backend.audit.service import record
from backend.core.errors import Conflict
from backend.core.types import Text, exact_decimal
from backend.sessions.models import SessionStatus, UsageSession
from backend.sessions.service import hold_of
from backend.sessions.billed import billed_so_far
from billing.ledger import service as ledger
from billing.ledger.models import JournalEntry, Posting
from billing.payments import holds
from billing.payments.interface import PaymentProvider
from billing.payments.models import HoldStatus, Payment, PaymentPurpose, PaymentStatus
from billing.payments.providers import Providers
from billing.payments.refunds import refund as refund_payment
from billing.payments.refunds import refunded_total
from billing.wallet.service import lock_wallet

ZERO = Decimal("0.00")


class SessionRefund(SQLModel):
    amount: exact_decimal(gt=0, le=100_000, places=2) | None = Field(
        default=None, description="Yuan to refund; absent: everything not refunded yet")
    reason: Text = Field(min_length=3, max_length=200)


class RefundNotPossible(Conflict):
    pass


def refund_session(db: Session, session: UsageSession, amount: Decimal | None, reason: str,
                   providers: PaymentProvider | Providers, actor=None) -> Decimal:
    """Give money back the way the session was paid: to the card, 支付分 or Alipay for what a hold captured, to the
    payment a session paid ahead came from, and the rest to the wallet.

    Decided under the vendor's wallet lock, so refunds sent at the same moment never add up to
    more than the session cost.
    """
    providers = Providers.of(providers)
    lock_wallet(db, session.vendor_id)
    if session.status != SessionStatus.completed:
        raise RefundNotPossible(f"session {session.id} is {session.status.value}; only settled sessions are refunded")
    hold = hold_of(db, session.id)
    if hold is not None and holds.hold_by_intent(db, hold.external_id).status.is_open:
        raise RefundNotPossible(f"session {session.id}'s {holds.HOLD_LABEL.get(hold.provider, 'hold')} is not "
                                f"settled yet; refund it once its bill has been captured (within a minute)")
    left = billed_so_far(db, session) - refunded(db, session)
    amount = left if amount is None else amount
    if left <= 0 or amount > left:
        raise RefundNotPossible(f"¥{max(left, ZERO)} of session {session.id} can still be refunded")
    to_hold = _hold_share(db, session, amount, providers)
    if to_hold:
        refund_payment(db, hold, to_hold, reason, providers.named(hold.provider))
    if amount > to_hold:
        count = len(list(db.exec(_refund_entries(session))))
        ledger.transfer(db, f"session-refund:{session.id}:{count + 1}", "session_refund",
                        ledger.account(db, ledger.REVENUE, "revenue"), lock_wallet(db, session.vendor_id),
                        amount - to_hold, memo=f"refund of session {session.id}: {reason}"[:255],
                        session_id=session.id)
        _send_on_to_prepayment(db, session, amount - to_hold, reason, providers)
    record(db, actor, "session.refund", "session", session.id, {"refundable": str(left)},
           {"refundable": str(left - amount), "refunded": str(amount)}, reason)
    return amount


def _hold_share(db: Session, session: UsageSession, amount: Decimal, providers: Providers) -> Decimal:
    """How much of a refund goes back to the hold: what it captured and was not refunded yet."""
    hold = hold_of(db, session.id)
    if hold is None or hold.status != HoldStatus.captured or not _refunds(providers, hold.provider):
        return ZERO
    return min(amount, hold.captured_amount - refunded_total(db, hold.external_id))


def _send_on_to_prepayment(db: Session, session: UsageSession, amount: Decimal, reason: str,
                           providers: Providers) -> None:
    """A session paid ahead: the refunded money goes on from the wallet to the payment it came from."""
    paid = db.exec(select(Payment).where(Payment.session_id == session.id, Payment.purpose == PaymentPurpose.session,
                                         Payment.status == PaymentStatus.succeeded)).first()
    if paid is None or not _refunds(providers, paid.provider):
        return
    share = min(amount, paid.amount - refunded_total(db, paid.external_id))
    if share > 0:
        refund_payment(db, paid, share, reason, providers.named(paid.provider))


def _refunds(providers: Providers, name: str) -> bool:
    return name in providers.by_name and providers.by_name[name].capabilities.refund


def refunded(db: Session, session: UsageSession) -> Decimal:
    """Everything refunded for this session so far, to the wallet or to the card."""
    hold = hold_of(db, session.id)
    to_hold = Decimal(0)
    if hold is not None:
        to_hold = refunded_total(db, hold.external_id)
    return refunded_to_wallet(db, session.id) + to_hold


def refunded_to_wallet(db: Session, session_id: int) -> Decimal:
    """What operators refunded of this session into the vendor's wallet."""
    to_wallet = db.exec(select(func.sum(Posting.amount)).join(JournalEntry, Posting.entry_id == JournalEntry.id)
                        .where(JournalEntry.session_id == session_id, JournalEntry.kind == "session_refund",
                               Posting.amount > 0)).one()
    return Decimal(to_wallet or 0)


def _refund_entries(session: UsageSession):
    return select(JournalEntry.id).where(JournalEntry.session_id == session.id, JournalEntry.kind == "session_refund")
