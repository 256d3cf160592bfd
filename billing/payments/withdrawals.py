"""余额原路退回: a vendor takes wallet money back the way it came in, newest card top-up first."""
import uuid
from decimal import Decimal

from sqlmodel import Session, select

from backend.core.errors import Conflict
from billing.ledger import service as ledger
from billing.payments.models import Payment, PaymentStatus
from billing.payments.refunds import refund, refunded_total
from billing.payments.service import clearing_account
from billing.wallet.service import wallet_account

REASON = "wallet withdrawal 余额原路退回"


class CannotWithdraw(Conflict):
    pass


def withdraw(db: Session, user_id: int, amount: Decimal, provider) -> Decimal:
    """Send `amount` back to the payment methods it came from; return the amount sent."""
    if not hasattr(provider, "refund"):
        return _withdraw_demo(db, user_id, amount)
    plan = _plan(db, user_id, amount)
    for payment, share in plan:
        refund(db, payment, share, REASON, provider)
    return amount


def _plan(db: Session, user_id: int, amount: Decimal) -> list[tuple[Payment, Decimal]]:
    """Which card payments refund how much; checked whole before any money moves."""
    plan, remaining = [], amount
    for payment in _card_top_ups(db, user_id):
        share = min(payment.amount - refunded_total(db, payment.external_id), remaining)
        if share > 0:
            plan.append((payment, share))
            remaining -= share
        if remaining == 0:
            return plan
    raise CannotWithdraw(f"only ¥{amount - remaining} of the wallet came from card payments that can still be "
                         f"refunded; the rest cannot go back the way it came")


def _card_top_ups(db: Session, user_id: int) -> list[Payment]:
    query = (select(Payment).where(Payment.user_id == user_id, Payment.provider == "stripe",
                                   Payment.status == PaymentStatus.succeeded).order_by(Payment.id.desc()))
    return list(db.exec(query))


def _withdraw_demo(db: Session, user_id: int, amount: Decimal) -> Decimal:
    ledger.transfer(db, f"withdraw:{uuid.uuid4().hex}", "withdrawal", wallet_account(db, user_id),
                    clearing_account(db, "demo"), amount, memo=f"{REASON} (demo provider)")
    return amount
