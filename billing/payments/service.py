"""Money in: top-ups and sessions paid ahead, credited once whichever of the answer, the notification or
the query fallback gets there first.

    paid (top-up or a session paid ahead)   clearing:<provider> -> wallet:<user>
"""
from decimal import Decimal

from sqlmodel import Session, select

from backend.core.clock import utcnow
from backend.core.errors import Conflict
from backend.core.rows import insert_once
from billing.ledger import service as ledger
from billing.ledger.models import LedgerAccount
from billing.payments import orders
from billing.payments.interface import (Checkout, Order, OrderState, Payer, PaymentDeclined, PaymentProvider,
                                        to_fen)
from billing.payments.models import Payment, PaymentPurpose, PaymentStatus
from billing.wallet import arrears
from billing.wallet.service import lock_wallet

__all__ = ["PaymentDeclined", "credit_top_up", "order_payment", "record_failed_payment", "top_up"]
NAMES = {"stripe": "Stripe", "wechat": "WeChat Pay", "alipay": "Alipay", "demo": "the demo provider"}


class ConfirmInApp(Conflict):
    """The provider needs the payer to confirm in WeChat or Alipay: use the API, which returns what the app needs."""


def display_name(provider: str) -> str:
    return NAMES.get(provider, provider)


def top_up(db: Session, user_id: int, amount: Decimal, provider: PaymentProvider,
           idempotency_key: str | None = None) -> Payment:
    """Charge a provider that completes at once (card, demo) and credit the wallet through its clearing account.

    With `idempotency_key`, a repeat of the same top-up charges once (the provider sees the key).
    """
    if not provider.capabilities.instant:
        raise ConfirmInApp(f"{display_name(provider.name)} top-ups are confirmed in the app; "
                           f"start them through the API (POST /api/v1/wallet/top-ups)")
    key = idempotency_key or orders.out_trade_no(orders.TOP_UP)
    checkout = provider.pay(Order(key, user_id, to_fen(amount), "ScanPower wallet top-up", "top_up"), key)
    if checkout.state is not OrderState.paid:
        record_failed_payment(db, user_id, provider.name, checkout.external_id, amount)
        raise PaymentDeclined(checkout.reason or "the payment was declined")
    return credit_top_up(db, user_id, provider.name, checkout.external_id, amount)


def order_payment(db: Session, user_id: int, amount: Decimal, provider: PaymentProvider, purpose: PaymentPurpose,
                  payer: Payer, idempotency_key: str | None = None,
                  outlet_id: int | None = None) -> tuple[Payment, Checkout]:
    """Open an order the payer confirms in the app (a top-up, or a session paid ahead); it stays pending
    until the provider's notification, or a query, says it was paid."""
    kind = orders.TOP_UP if purpose is PaymentPurpose.top_up else orders.SESSION
    number = orders.out_trade_no(kind, idempotency_key)
    title = "扫码用电 钱包充值 wallet top-up" if purpose is PaymentPurpose.top_up else "扫码用电 ScanPower session"
    checkout = provider.pay(Order(number, user_id, to_fen(amount), title, purpose.value, payer), number)
    if checkout.state is OrderState.failed:
        raise PaymentDeclined(checkout.reason or "the payment service refused the order")
    insert_once(db, Payment(user_id=user_id, provider=provider.name, external_id=number, amount=amount,
                            purpose=purpose, status=PaymentStatus.pending, outlet_id=outlet_id), "external_id")
    return payment_by_external_id(db, number), checkout


def credit_top_up(db: Session, user_id: int, provider: str, external_id: str, amount: Decimal,
                  transaction_id: str | None = None) -> Payment:
    """Record a succeeded payment and credit the wallet, once per external id; a top-up first pays off arrears.

    The request that charged the card and the provider's notification may both get here, in
    either order or at the same time; the unique external id and the ledger key make the
    second one a no-op.
    """
    wallet = lock_wallet(db, user_id)
    insert_once(db, Payment(user_id=user_id, provider=provider, external_id=external_id, amount=amount,
                            status=PaymentStatus.succeeded), "external_id")
    payment = payment_by_external_id(db, external_id)
    payment.status = PaymentStatus.succeeded  # a retried PaymentIntent can succeed after failing
    payment.transaction_id = transaction_id or payment.transaction_id or external_id
    payment.paid_at = payment.paid_at or utcnow()
    what = "top-up" if payment.purpose is PaymentPurpose.top_up else "session paid ahead"
    key = f"topup:{external_id}"
    first_time = ledger.find_entry(db, key) is None
    ledger.transfer(db, key, "top_up", clearing_account(db, provider), wallet, payment.amount,
                    memo=f"{what} via {provider}")
    if first_time and payment.purpose is PaymentPurpose.top_up:  # money paid ahead stays with its session
        arrears.collect(db, user_id, payment.amount, f"collect:{key}")
    db.add(payment)
    db.flush()
    return payment


def record_failed_payment(db: Session, user_id: int, provider: str, external_id: str, amount: Decimal) -> Payment:
    """Remember a declined payment; a success already recorded for the same id stays."""
    insert_once(db, Payment(user_id=user_id, provider=provider, external_id=external_id, amount=amount,
                            status=PaymentStatus.failed), "external_id")
    return payment_by_external_id(db, external_id)


def close_payment(db: Session, payment: Payment, reason: str) -> Payment:
    """An order never paid: closed at the provider, so it can no longer be paid."""
    lock_wallet(db, payment.user_id)
    payment = payment_by_external_id(db, payment.external_id)
    if payment.status is PaymentStatus.pending:
        payment.status = PaymentStatus.closed
        payment.failure_reason = reason[:255]
        db.add(payment)
        db.flush()
    return payment


def payment_by_external_id(db: Session, external_id: str) -> Payment | None:
    # populate_existing: the row may have just been written by a core insert or another transaction.
    query = select(Payment).where(Payment.external_id == external_id).execution_options(populate_existing=True)
    return db.exec(query).first()


def clearing_account(db: Session, provider: str) -> LedgerAccount:
    """Money the provider collected for us and has not paid out yet."""
    return ledger.account(db, f"clearing:{provider}", "payments_clearing")
