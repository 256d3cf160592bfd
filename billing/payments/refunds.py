"""Refunds to the original payment; the ledger follows the provider refund by refund.

    refund of a top-up or a session paid ahead   wallet:<user>        -> clearing:<provider>
    refund of a captured hold                    revenue:electricity  -> clearing:<provider>
    a refund that failed after it was booked     the same entry back, clearing:<provider> -> where it came from

A refund is booked when the provider accepts it: the money is then on its way and cannot be
spent again. WeChat Pay reports the outcome later (a notification, or a query); one that fails
puts the money back where it was booked from.
"""
import logging
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func
from sqlmodel import Session, select

from backend.core.clock import utcnow
from backend.core.errors import Conflict
from backend.core.rows import insert_once
from billing.ledger import service as ledger
from billing.ledger.models import LedgerAccount
from billing.payments.holds import hold_by_intent
from billing.payments.interface import PaidRef, PaymentProvider, RefundResult, RefundState, from_fen, to_fen
from billing.payments.models import Hold, HoldStatus, Payment, PaymentStatus, Refund, RefundStatus
from billing.payments.service import clearing_account, payment_by_external_id
from billing.payments.stripe_provider import StripeProvider, StripeRefund
from billing.wallet.service import lock_wallet, wallet_account, wallet_balance

log = logging.getLogger(__name__)
REFUNDED_IN_STRIPE = "refunded in Stripe"
STATES = {RefundState.pending: RefundStatus.pending, RefundState.succeeded: RefundStatus.succeeded,
          RefundState.failed: RefundStatus.failed}


class NothingToRefund(Conflict):
    pass


class RefundTooLarge(Conflict):
    pass


class RefundExceedsBalance(Conflict):
    pass


@dataclass(frozen=True)
class _Refundable:
    external_id: str
    provider: str
    paid: Decimal
    transaction_id: str | None
    account: LedgerAccount  # where the refunded money comes from in our books


def refund(db: Session, target: Payment | Hold, amount: Decimal | None, reason: str,
           provider: PaymentProvider) -> Refund:
    """Send `amount` (None: all that is left) back to the original payment and book it.

    A refund the provider refuses is recorded `failed` and moves nothing; one whose outcome comes
    later is booked `pending`.
    """
    lock_wallet(db, target.user_id)  # refunds of one payment are decided one at a time
    source = _refundable(db, target)
    left = source.paid - refunded_total(db, source.external_id)
    amount = left if amount is None else amount
    if left <= 0:
        raise NothingToRefund(f"{source.external_id} has nothing left to refund")
    if amount <= 0 or amount > left:
        raise RefundTooLarge(f"can refund between ¥0.01 and ¥{left}, not ¥{amount}")
    if isinstance(target, Payment) and wallet_balance(db, target.user_id) < amount:
        raise RefundExceedsBalance(f"the wallet holds less than ¥{amount}")
    # The n-th refund of a payment for a given amount always has the same number: a retry after
    # a lost answer gets the provider's first refund back instead of a second one.
    sequence = _refund_count(db, source.external_id) + 1
    made = provider.refund(PaidRef(source.external_id, source.transaction_id, to_fen(source.paid)), sequence,
                           to_fen(amount), reason)
    return record_refund(db, source.external_id, made.refund_id, from_fen(made.amount_fen), reason, made)


def record_refund(db: Session, payment_external_id: str, refund_id: str, amount: Decimal, reason: str,
                  made: RefundResult | None = None) -> Refund:
    """Book a refund once, whether our request, the provider's notification or a reconciliation sees it first."""
    source = _refundable(db, _target(db, payment_external_id))
    status = STATES[made.state] if made is not None else RefundStatus.succeeded
    insert_once(db, Refund(external_id=refund_id, payment_external_id=payment_external_id, provider=source.provider,
                           amount=amount, status=status, transaction_id=made.transaction_id if made else None,
                           reason=reason[:255], finished_at=utcnow() if status is RefundStatus.succeeded else None),
                "external_id")
    if status is RefundStatus.failed:
        log.warning("%s refused refund %s of %s: %s", source.provider, refund_id, payment_external_id,
                    made.reason if made else "")
        _set_reason(db, refund_id, f"{reason} — refused: {made.reason if made else ''}")
    else:
        ledger.transfer(db, f"refund:{refund_id}", "refund", source.account, clearing_account(db, source.provider),
                        amount, memo=f"refund {refund_id} of {payment_external_id}: {reason}"[:255])
    return refund_by_id(db, refund_id)


def finish_refund(db: Session, refund_id: str, succeeded: bool, why: str = "") -> Refund | None:
    """The provider's word on a pending refund: done, or failed (its money goes back where it came from)."""
    found = refund_by_id(db, refund_id)
    if found is None:
        log.warning("refund %s is not ours; nothing done", refund_id)
        return None
    target = _target(db, found.payment_external_id)
    lock_wallet(db, target.user_id)
    found = refund_by_id(db, refund_id)
    if found.status is not RefundStatus.pending:
        return found
    found.status = RefundStatus.succeeded if succeeded else RefundStatus.failed
    found.finished_at = utcnow()
    if not succeeded:
        source = _refundable(db, target)
        found.reason = f"{found.reason} — failed: {why}"[:255]
        log.warning("refund %s of %s failed: %s", refund_id, found.payment_external_id, why)
        ledger.transfer(db, f"refund-failed:{refund_id}", "refund_failed", clearing_account(db, found.provider),
                        source.account, found.amount, memo=f"refund {refund_id} failed: {why}"[:255])
    db.add(found)
    db.flush()
    return found


def reconcile_refunds(db: Session, payment_intent_id: str, charge: dict, provider: StripeProvider) -> list[Refund]:
    """Book refunds Stripe has and we do not (made in the dashboard), so both agree."""
    target = _target(db, payment_intent_id)
    if target is None:
        log.info("charge.refunded for %s, which is not ours", payment_intent_id)
        return []
    lock_wallet(db, target.user_id)
    known = set(db.exec(select(Refund.external_id).where(Refund.payment_external_id == payment_intent_id)))
    paid = _refundable(db, target).paid
    booked = []
    for found in _customer_refunds(provider.refunds_of(payment_intent_id), target, charge):
        if found.id in known:
            continue
        if refunded_total(db, payment_intent_id) + found.amount > paid:
            log.error("refund %s of %s exceeds what was paid; not booked", found.id, payment_intent_id)
            continue
        booked.append(record_refund(db, payment_intent_id, found.id, found.amount, REFUNDED_IN_STRIPE))
    return booked


def refunded_total(db: Session, payment_external_id: str) -> Decimal:
    """What went back, or is on its way back, to this payment (refused and failed refunds not counted)."""
    total = db.exec(select(func.sum(Refund.amount)).where(Refund.payment_external_id == payment_external_id,
                                                          Refund.status != RefundStatus.failed)).one()
    return Decimal(total or 0).quantize(Decimal("0.01"))


def refund_by_id(db: Session, refund_id: str) -> Refund | None:
    query = select(Refund).where(Refund.external_id == refund_id).execution_options(populate_existing=True)
    return db.exec(query).first()


def pending_refunds(db: Session) -> list[Refund]:
    return list(db.exec(select(Refund).where(Refund.status == RefundStatus.pending).order_by(Refund.id)))


def paid_ref(db: Session, refund_row: Refund) -> PaidRef:
    source = _refundable(db, _target(db, refund_row.payment_external_id))
    return PaidRef(source.external_id, source.transaction_id, to_fen(source.paid))


def _set_reason(db: Session, refund_id: str, reason: str) -> None:
    found = refund_by_id(db, refund_id)
    found.reason = reason[:255]
    db.add(found)
    db.flush()


def _refund_count(db: Session, payment_external_id: str) -> int:
    query = select(func.count()).select_from(Refund).where(Refund.payment_external_id == payment_external_id)
    return db.exec(query).one()


def _target(db: Session, external_id: str) -> Payment | Hold | None:
    return payment_by_external_id(db, external_id) or hold_by_intent(db, external_id)


def _refundable(db: Session, target: Payment | Hold | None) -> _Refundable:
    if isinstance(target, Payment) and target.provider != "demo" and target.status is PaymentStatus.succeeded:
        return _Refundable(target.external_id, target.provider, target.amount, target.transaction_id,
                           wallet_account(db, target.user_id))
    if isinstance(target, Hold) and target.status is HoldStatus.captured:
        return _Refundable(target.external_id, target.provider, target.captured_amount, target.transaction_id,
                           ledger.account(db, ledger.REVENUE, "revenue"))
    raise NothingToRefund("only succeeded payments and captured holds can be refunded")


def _customer_refunds(refunds: list[StripeRefund], target: Payment | Hold, charge: dict) -> list[StripeRefund]:
    """Leave out the release of a partial capture where Stripe books it as a refund.

    A charge without `amount_captured` (legacy API versions, localstripe) shows the
    uncaptured rest of a hold as a refund; the customer never paid that money.
    """
    if not isinstance(target, Hold) or "amount_captured" in charge:
        return refunds
    release = target.amount - target.captured_amount
    for index, found in enumerate(refunds):
        if not found.ours and found.amount == release:
            return refunds[:index] + refunds[index + 1:]
    return refunds
