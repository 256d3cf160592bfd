from decimal import Decimal

from sqlmodel import Session

from backend.core.errors import ScanPowerError
from billing.ledger import service as ledger
from billing.payments.models import Payment, PaymentStatus
from billing.payments.providers import PaymentProvider
from billing.wallet.service import wallet_account


class PaymentDeclined(ScanPowerError):
    status_code = 402


def top_up(db: Session, user_id: int, amount: Decimal, provider: PaymentProvider) -> Payment:
    """Charge the provider and credit the wallet through the provider's clearing account."""
    charge = provider.charge(user_id, amount)
    status = PaymentStatus.succeeded if charge.succeeded else PaymentStatus.failed
    payment = Payment(user_id=user_id, provider=provider.name, external_id=charge.external_id,
                      amount=amount, status=status)
    db.add(payment)
    db.flush()
    if not charge.succeeded:
        raise PaymentDeclined(charge.reason or "the payment was declined")
    clearing = ledger.account(db, f"clearing:{provider.name}", "payments_clearing")
    ledger.transfer(db, f"topup:{payment.external_id}", "top_up", clearing,
                    wallet_account(db, user_id), amount, memo=f"top-up via {provider.name}")
    return payment
