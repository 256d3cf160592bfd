"""Refunds to the card, for a top-up or a captured hold; the ledger follows Stripe refund by refund.

    refund of a top-up          wallet:<user>        -> clearing:stripe
    refund of a captured hold   revenue:electricity  -> clearing:stripe
"""
import logging
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func
from sqlmodel import Session, select

from backend.core.errors import Conflict
from billing.ledger import service as ledger
from billing.ledger.models import LedgerAccount
from billing.payments.holds import hold_by_intent
from billing.payments.models import Hold, HoldStatus, Payment, PaymentStatus, Refund
from backend.core.rows import insert_once
from billing.payments.service import clearing_account, payment_by_external_id
from billing.payments.stripe_provider import StripeProvider, StripeRefund, to_fen
from billing.wallet.service import lock_wallet, wallet_account, wallet_balance

log = logging.getLogger(__name__)
REFUNDED_IN_STRIPE = "refunded in Stripe"


class NothingToRefund(Conflict):
    pass


class RefundTooLarge(Conflict):
    pass


class RefundExceedsBalance(Conflict):
    pass


@dataclass(frozen=True)
class _Refundable:
    payment_intent_id: str
    paid: Decimal
    account: LedgerAccount  # where the refunded money comes from in our books


def refund(db: Session, target: Payment | Hold, amount: Decimal | None, reason: str,
           provider: StripeProvider) -> Refund:
    """Send `amount` (None: all that is left) back to the card and book it."""
    lock_wallet(db, target.user_id)  # refunds of one payment are decided one at a time
    source = _refundable(db, target)
    left = source.paid - refunded_total(db, source.payment_intent_id)
    amount = left if amount is None else amount
    if left <= 0:
        raise NothingToRefund(f"{source.payment_intent_id} has nothing left to refund")
    if amount <= 0 or amount > left:
        raise RefundTooLarge(f"can refund between ¥0.01 and ¥{left}, not ¥{amount}")
    if isinstance(target, Payment) and wallet_balance(db, target.user_id) < amount:
        raise RefundExceedsBalance(f"the wallet holds less than ¥{amount}")
    # The n-th refund of an intent for a given amount always has the same key: a retry after
    # a lost answer gets Stripe's first refund back instead of a second one.
    count = _refund_count(db, source.payment_intent_id)
    key = f"refund:{source.payment_intent_id}:{count + 1}:{to_fen(amount)}"
    made = provider.refund(source.payment_intent_id, amount, reason, key)
    return record_refund(db, source.payment_intent_id, made.id, made.amount, reason)


def record_refund(db: Session, payment_intent_id: str, refund_id: str, amount: Decimal, reason: str) -> Refund:
    """Book a Stripe refund once, whether our request or the charge.refunded webhook sees it first."""
    source = _refundable(db, _target(db, payment_intent_id))
    insert_once(db, Refund(external_id=refund_id, payment_intent_id=payment_intent_id, amount=amount,
                           reason=reason[:255]), "external_id")
    ledger.transfer(db, f"refund:{refund_id}", "refund", source.account, clearing_account(db, "stripe"), amount,
                    memo=f"refund {refund_id} of {payment_intent_id}: {reason}"[:255])
    return db.exec(select(Refund).where(Refund.external_id == refund_id)).one()


def reconcile_refunds(db: Session, payment_intent_id: str, charge: dict, provider: StripeProvider) -> list[Refund]:
    """Book refunds Stripe has and we do not (made in the dashboard), so both agree."""
    target = _target(db, payment_intent_id)
    if target is None:
        log.info("charge.refunded for %s, which is not ours", payment_intent_id)
        return []
    lock_wallet(db, target.user_id)
    known = set(db.exec(select(Refund.external_id).where(Refund.payment_intent_id == payment_intent_id)))
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


def refunded_total(db: Session, payment_intent_id: str) -> Decimal:
    total = db.exec(select(func.sum(Refund.amount)).where(Refund.payment_intent_id == payment_intent_id)).one()
    return Decimal(total or 0).quantize(Decimal("0.01"))


def _refund_count(db: Session, payment_intent_id: str) -> int:
    return db.exec(select(func.count()).select_from(Refund).where(Refund.payment_intent_id == payment_intent_id)).one()


def _target(db: Session, payment_intent_id: str) -> Payment | Hold | None:
    return payment_by_external_id(db, payment_intent_id) or hold_by_intent(db, payment_intent_id)


def _refundable(db: Session, target: Payment | Hold | None) -> _Refundable:
    if isinstance(target, Payment) and target.provider == "stripe" and target.status is PaymentStatus.succeeded:
        return _Refundable(target.external_id, target.amount, wallet_account(db, target.user_id))
    if isinstance(target, Hold) and target.status is HoldStatus.captured:
        return _Refundable(target.payment_intent_id, target.captured_amount,
                           ledger.account(db, ledger.REVENUE, "revenue"))
    raise NothingToRefund("only succeeded Stripe top-ups and captured card holds can be refunded")


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
