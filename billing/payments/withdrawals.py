"""余额原路退回: a vendor takes wallet money back the way it came in, newest top-up first, across providers."""
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

from sqlmodel import Session, select

from backend.core.errors import Conflict
from billing.ledger import service as ledger
from billing.payments.interface import PaymentProvider
from billing.payments.models import Payment, PaymentPurpose, PaymentStatus, Refund, RefundStatus
from billing.payments.providers import Providers
from billing.payments.refunds import refund, refunded_total
from billing.payments.service import clearing_account
from billing.wallet.service import wallet_account

REASON = "wallet withdrawal 余额原路退回"
ZERO = Decimal("0.00")


class CannotWithdraw(Conflict):
    pass


@dataclass
class WithdrawalOutcome:
    """What went back, and where: a refund a provider refused leaves its part in the wallet."""

    refunds: list[Refund] = field(default_factory=list)
    demo: Decimal = ZERO  # booked out through the demo provider, which moves no money

    @property
    def sent(self) -> Decimal:
        return sum((r.amount for r in self.refunds if r.status is not RefundStatus.failed), self.demo)

    @property
    def refused(self) -> Decimal:
        return sum((r.amount for r in self.refunds if r.status is RefundStatus.failed), ZERO)


def withdraw(db: Session, user_id: int, amount: Decimal, providers: PaymentProvider | Providers) -> WithdrawalOutcome:
    """Send `amount` back to the payments it came from; each refund is one provider request."""
    providers = Providers.of(providers)
    refunding = {p.name: p for p in providers if p.capabilities.refund}
    if not refunding:
        return _withdraw_demo(db, user_id, amount)
    outcome = WithdrawalOutcome()
    for payment, share in _plan(db, user_id, amount, refunding):
        outcome.refunds.append(refund(db, payment, share, REASON, refunding[payment.provider]))
    return outcome


def _plan(db: Session, user_id: int, amount: Decimal,
          refunding: dict[str, PaymentProvider]) -> list[tuple[Payment, Decimal]]:
    """Which top-ups refund how much; checked whole before any money moves."""
    plan, remaining = [], amount
    for payment in _refundable_top_ups(db, user_id, list(refunding)):
        share = min(payment.amount - refunded_total(db, payment.external_id), remaining)
        if share > 0:
            plan.append((payment, share))
            remaining -= share
        if remaining == 0:
            return plan
    raise CannotWithdraw(f"only ¥{amount - remaining} of the wallet came from payments that can still be "
                         f"refunded; the rest cannot go back the way it came")


def _refundable_top_ups(db: Session, user_id: int, providers: list[str]) -> list[Payment]:
    query = (select(Payment).where(Payment.user_id == user_id, Payment.provider.in_(providers),
                                   Payment.purpose == PaymentPurpose.top_up,
                                   Payment.status == PaymentStatus.succeeded).order_by(Payment.id.desc()))
    return list(db.exec(query))


def _withdraw_demo(db: Session, user_id: int, amount: Decimal) -> WithdrawalOutcome:
    ledger.transfer(db, f"withdraw:{uuid.uuid4().hex}", "withdrawal", wallet_account(db, user_id),
                    clearing_account(db, "demo"), amount, memo=f"{REASON} (demo provider)")
    return WithdrawalOutcome(demo=amount)
