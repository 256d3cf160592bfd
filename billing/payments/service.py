from decimal import Decimal

from sqlmodel import Session, select

from backend.core.errors import ScanPowerError
from billing.ledger import service as ledger
from billing.ledger.models import LedgerAccount
from billing.payments.models import Payment, PaymentStatus
from billing.payments.providers import PaymentProvider
from backend.core.rows import insert_once
from billing.wallet.service import lock_wallet


class PaymentDeclined(ScanPowerError):
    status_code = 402


def top_up(db: Session, user_id: int, amount: Decimal, provider: PaymentProvider,
           idempotency_key: str | None = None) -> Payment:
    """Charge the provider and credit the wallet through the provider's clearing account.

    With `idempotency_key`, a repeat of the same top-up charges once (the provider sees the key).
    """
    charge = provider.charge(user_id, amount, idempotency_key)
    if not charge.succeeded:
        record_failed_payment(db, user_id, provider.name, charge.external_id, amount)
        raise PaymentDeclined(charge.reason or "the payment was declined")
    return credit_top_up(db, user_id, provider.name, charge.external_id, amount)


def credit_top_up(db: Session, user_id: int, provider: str, external_id: str, amount: Decimal) -> Payment:
    """Record a succeeded top-up and credit the wallet, once per external id.

    The request that charged the card and the provider's webhook may both get here, in
    either order or at the same time; the unique external id and the ledger key make the
    second one a no-op.
    """
    wallet = lock_wallet(db, user_id)
    insert_once(db, Payment(user_id=user_id, provider=provider, external_id=external_id, amount=amount,
                            status=PaymentStatus.succeeded), "external_id")
    payment = payment_by_external_id(db, external_id)
    payment.status = PaymentStatus.succeeded  # a retried PaymentIntent can succeed after failing
    ledger.transfer(db, f"topup:{external_id}", "top_up", clearing_account(db, provider),
                    wallet, payment.amount, memo=f"top-up via {provider}")
    db.flush()
    return payment


def record_failed_payment(db: Session, user_id: int, provider: str, external_id: str, amount: Decimal) -> Payment:
    """Remember a declined payment; a success already recorded for the same id stays."""
    insert_once(db, Payment(user_id=user_id, provider=provider, external_id=external_id, amount=amount,
                            status=PaymentStatus.failed), "external_id")
    return payment_by_external_id(db, external_id)


def payment_by_external_id(db: Session, external_id: str) -> Payment | None:
    # populate_existing: the row may have just been written by a core insert or another transaction.
    query = select(Payment).where(Payment.external_id == external_id).execution_options(populate_existing=True)
    return db.exec(query).first()


def clearing_account(db: Session, provider: str) -> LedgerAccount:
    """Money the provider collected for us and has not paid out yet."""
    return ledger.account(db, f"clearing:{provider}", "payments_clearing")
