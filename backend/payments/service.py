"""Payments the vendor confirms in WeChat or Alipay: ask for them, complete them once on the notification or
the query fallback, and start the session they pay for.

Lock order, on top of session-then-wallet: a pending payment's or hold's own row first. Its
notification and its query fallback may arrive together; the one that finds it still pending
completes it, the other does nothing.
"""
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlmodel import Session, select

from backend.core.clock import as_utc, utcnow
from backend.core.config import Settings
from backend.core.errors import ScanPowerError
from backend.core.rows import insert_once, lock_row
from backend.points.models import Outlet
from backend.sessions import service as sessions
from backend.users.models import User
from billing.payments import holds
from billing.payments.interface import (Checkout, Notification, NotificationKind, OrderState, OrderStatus, Payer,
                                        PaymentProvider, to_fen)
from billing.payments.models import (Hold, HoldStatus, Payment, PaymentNotification, PaymentPurpose,
                                     PaymentStatus)
from billing.payments.providers import Providers
from billing.payments.refunds import finish_refund, paid_ref, pending_refunds
from billing.payments.service import close_payment, credit_top_up, order_payment, payment_by_external_id

log = logging.getLogger(__name__)
ASK_AFTER = timedelta(minutes=1)  # a notification normally comes within seconds; then ask
ASK_AGAIN_AFTER = timedelta(seconds=3)  # a payer waiting on a page: ask at most this often
GIVE_UP_AFTER = timedelta(minutes=35)  # orders expire at the provider after 30 minutes; then close them


@dataclass(frozen=True)
class Requested:
    order_no: str
    provider: str
    purpose: str
    amount: Decimal
    status: str
    pay_params: dict[str, str]


def request_top_up(db: Session, vendor: User, amount: Decimal, provider: PaymentProvider, payer: Payer,
                   idempotency_key: str | None) -> Requested:
    """A top-up the vendor confirms in the app; the wallet is credited when the provider says it was paid."""
    payment, checkout = order_payment(db, vendor.id, amount, provider, PaymentPurpose.top_up, payer,
                                      idempotency_key)
    return _requested(payment.external_id, provider, "top_up", amount, payment.status.value, checkout)


def request_session_payment(db: Session, vendor: User, outlet_token: str, amount: Decimal,
                            provider: PaymentProvider, payer: Payer, idempotency_key: str | None, *,
                            hold: bool = True) -> Requested:
    """Pay for one session in the app: a hold where the provider has one (支付分, 资金预授权), else paid ahead
    and the unused part refunded at once. The session starts when the provider confirms.

    `hold=False` pays ahead even where the provider could hold: the payer's browser cannot confirm a hold
    (支付分 and 资金预授权 are confirmed only inside WeChat and Alipay)."""
    if vendor.role.value != "vendor":
        raise sessions.NotAVendor("only vendor accounts can switch power on")
    outlet = sessions.check_startable(db, outlet_token, amount)
    if hold and provider.capabilities.hold:
        hold, checkout = holds.ask_for_hold(db, vendor.id, amount, provider, outlet.id, payer, idempotency_key)
        return _requested(hold.external_id, provider, "hold", amount, hold.status.value, checkout)
    payment, checkout = order_payment(db, vendor.id, amount, provider, PaymentPurpose.session, payer,
                                      idempotency_key, outlet_id=outlet.id)
    return _requested(payment.external_id, provider, "session", amount, payment.status.value, checkout)


def receive_notification(db: Session, provider: PaymentProvider, note: Notification, settings: Settings) -> bool:
    """Store the notification unless seen before (then False), and act on it in the same transaction."""
    stored = PaymentNotification(provider=provider.name, notification_id=note.id[:255], type=note.type[:120],
                                 external_id=note.external_id[:120])
    if not insert_once(db, stored, "provider", "notification_id"):
        log.info("%s notification %s (%s) seen before; acknowledged, nothing done", provider.name, note.id, note.type)
        return False
    act_on(db, provider, note, settings)
    row = db.exec(select(PaymentNotification).where(PaymentNotification.provider == provider.name,
                                                    PaymentNotification.notification_id == note.id[:255])).one()
    row.processed_at = utcnow()
    db.add(row)
    db.flush()
    return True


def act_on(db: Session, provider: PaymentProvider, note: Notification, settings: Settings) -> None:
    """What a verified notification means for our books; the query fallback comes here too."""
    if note.kind in (NotificationKind.refund_succeeded, NotificationKind.refund_failed):
        finish_refund(db, note.refund_id or "", note.kind is NotificationKind.refund_succeeded, note.type)
        return
    payment = payment_by_external_id(db, note.external_id)
    hold = holds.hold_by_intent(db, note.external_id) if payment is None else None
    if payment is None and hold is None:
        log.warning("%s notification %s names %r, which is not ours", provider.name, note.id, note.external_id)
        return
    if payment is not None:
        _payment_news(db, payment, note, settings)
    else:
        _hold_news(db, hold, note, settings)


def _payment_news(db: Session, payment: Payment, note: Notification, settings: Settings) -> None:
    if note.kind is NotificationKind.paid:
        if note.amount_fen is not None and note.amount_fen != to_fen(payment.amount):
            log.error("payment %s: %s says %s fen were paid, we asked for %s; not credited", payment.external_id,
                      payment.provider, note.amount_fen, to_fen(payment.amount))
            return
        complete_payment(db, payment, note.transaction_id, settings)
    elif note.kind is NotificationKind.closed:
        _close(db, payment, f"{payment.provider}: {note.type}")


def _hold_news(db: Session, hold: Hold, note: Notification, settings: Settings) -> None:
    if note.kind is NotificationKind.held:
        complete_hold(db, hold, note.transaction_id, settings)
    elif note.kind is NotificationKind.captured and hold.provider == "wechat" and note.transaction_id:
        hold.transaction_id = note.transaction_id  # 支付分 collected: refunds name this payment
        db.add(hold)
    elif note.kind is NotificationKind.closed:
        holds.fail_pending_hold(db, _locked_hold(db, hold), f"{hold.provider}: {note.type}")


def complete_payment(db: Session, payment: Payment, transaction_id: str | None, settings: Settings) -> Payment:
    """Paid: credit it once; a session paid ahead starts now, or, if it cannot, all of it goes back."""
    payment = _locked_payment(db, payment)
    if payment.status is not PaymentStatus.pending:
        return payment
    if payment.purpose is PaymentPurpose.session:
        _start_paid(db, payment, settings)  # the session row before the wallet, as everywhere
    return credit_top_up(db, payment.user_id, payment.provider, payment.external_id, payment.amount, transaction_id)


def complete_hold(db: Session, hold: Hold, transaction_id: str | None, settings: Settings) -> Hold:
    """The payer confirmed the hold: start its session; one that cannot start is released by the settling job."""
    hold = _locked_hold(db, hold)
    if hold.status is not HoldStatus.pending:
        return hold
    hold.status, hold.transaction_id = HoldStatus.authorized, transaction_id or hold.transaction_id
    db.add(hold)
    db.flush()
    _start_paid(db, hold, settings)
    return hold


def _start_paid(db: Session, paid: Payment | Hold, settings: Settings) -> None:
    """Start the session the money is for; if the outlet was taken or went offline meanwhile, say why."""
    vendor = db.get(User, paid.user_id)
    token = _outlet_token(db, paid.outlet_id)
    try:
        with db.begin_nested():  # a refused start leaves nothing half-written
            sessions.start_session(db, vendor, token, settings.min_start_balance, settings.command_timeout_seconds,
                                   paid=paid)
    except ScanPowerError as refusal:
        log.info("%s %s paid but its session could not start: %s", paid.provider, paid.external_id, refusal.detail)
        paid.failure_reason = f"the session could not start ({refusal.detail}); the money goes back"[:255]
        paid.session_id = None
        db.add(paid)
        db.flush()


def recover_pending(db: Session, providers: Providers, settings: Settings, now: datetime) -> list[str]:
    """Ask the provider about orders, holds and refunds whose notification has not come: complete, close, or wait.

    The providers are asked first, holding no lock; then every row asked about is locked, in order,
    before any of them is completed: a notification for one of them meanwhile (its row, then the
    wallet) can never wait on us while we wait on it.
    """
    rows = [*_stale(db, Payment, Payment.status == PaymentStatus.pending, now),
            *_stale(db, Hold, Hold.status == HoldStatus.pending, now)]
    answers = [(row, _ask(providers, row, now)) for row in rows if _in_app(providers, row)]
    for row, _ in answers:
        _lock(db, row)
    touched = [row.external_id for row, state in answers if _apply(db, row, state, settings, now)]
    for found in pending_refunds(db):
        if found.provider not in providers.by_name or as_utc(found.created_at) > now - ASK_AFTER:
            continue
        result = providers.named(found.provider).query_refund(paid_ref(db, found), found.external_id)
        if result.state.value != "pending":
            finish_refund(db, found.external_id, result.state.value == "succeeded", result.reason or "queried")
            touched.append(found.external_id)
    return touched


def check_now(db: Session, providers: Providers, row: Payment | Hold, settings: Settings,
              now: datetime) -> Payment | Hold:
    """The query fallback for one order whose payer is back on our page before its notification came:
    ask the provider (at most every few seconds), then complete or close it as `recover_pending` would."""
    pending = row.status in (PaymentStatus.pending, HoldStatus.pending)
    asked_lately = row.checked_at is not None and as_utc(row.checked_at) > now - ASK_AGAIN_AFTER
    if not pending or asked_lately or not _in_app(providers, row):
        return row
    state = _ask(providers, row, now)  # holding no lock, as recover_pending
    _lock(db, row)
    _apply(db, row, state, settings, now)
    return db.get(type(row), row.id, populate_existing=True)


def _in_app(providers: Providers, row: Payment | Hold) -> bool:
    provider = providers.by_name.get(row.provider)
    return provider is not None and not provider.capabilities.instant


def _ask(providers: Providers, row: Payment | Hold, now: datetime) -> OrderStatus:
    """The order's state at its provider; one unpaid past its expiry is closed there first."""
    provider = providers.named(row.provider)
    purpose = "hold" if isinstance(row, Hold) else row.purpose.value
    status = provider.query(row.external_id, purpose)
    if status.state is OrderState.pending and as_utc(row.created_at) < now - GIVE_UP_AFTER:
        provider.close(row.external_id, purpose)
        return OrderStatus(OrderState.closed, None, None)
    return status


def _apply(db: Session, row: Payment | Hold, status: OrderStatus, settings: Settings, now: datetime) -> bool:
    row = db.get(type(row), row.id, populate_existing=True)
    row.checked_at = now
    db.add(row)
    if status.state in (OrderState.paid, OrderState.held, OrderState.captured):
        if isinstance(row, Hold):
            complete_hold(db, row, status.transaction_id, settings)
        elif status.amount_fen in (None, to_fen(row.amount)):
            complete_payment(db, row, status.transaction_id, settings)
        return True
    if status.state in (OrderState.closed, OrderState.failed):
        _close(db, row, f"not paid: the order is {status.state.value} at {row.provider}")
        return True
    return False


def _lock(db: Session, row: Payment | Hold) -> None:
    lock_row(db, type(row), row.id)


def _close(db: Session, row: Payment | Hold, reason: str) -> None:
    if isinstance(row, Hold):
        holds.fail_pending_hold(db, _locked_hold(db, row), reason)
    else:
        close_payment(db, _locked_payment(db, row), reason)


def _stale(db: Session, model, pending, now: datetime) -> list:
    asked_before = now - ASK_AFTER
    query = (select(model).where(pending, model.created_at < asked_before)
             .where((model.checked_at.is_(None)) | (model.checked_at < asked_before)).order_by(model.id).limit(200))
    return list(db.exec(query))


def _locked_payment(db: Session, payment: Payment) -> Payment:
    lock_row(db, Payment, payment.id)
    return db.get(Payment, payment.id, populate_existing=True)


def _locked_hold(db: Session, hold: Hold) -> Hold:
    lock_row(db, Hold, hold.id)
    return db.get(Hold, hold.id, populate_existing=True)


def _outlet_token(db: Session, outlet_id: int | None) -> str:
    outlet = db.get(Outlet, outlet_id) if outlet_id is not None else None
    return outlet.qr_token if outlet is not None else ""


def _requested(number: str, provider: PaymentProvider, purpose: str, amount: Decimal, status: str,
               checkout: Checkout) -> Requested:
    return Requested(number, provider.name, purpose, amount, status, dict(checkout.params))
