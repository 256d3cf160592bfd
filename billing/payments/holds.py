"""A hold per session: reserve the most it may cost, capture what it used, release the rest.

Card holds (Stripe) are placed inside the request. 微信支付分 orders and Alipay freezes (资金预授权)
are confirmed by the payer in the app: they start `pending` and a notification (or a query)
confirms them. An authorisation moves no money, so placing a hold writes no ledger entry.
Settling it does:
    captured                    clearing:<provider> -> revenue:electricity
    charged to wallet           wallet:<user>       -> revenue:electricity   (below the minimum, or above the hold)

A charge to the wallet takes only what is free there; the rest is owed (billing/wallet/charges.py). While
a hold is open its possible charge below the minimum is reserved in the wallet (`minimum_capture`).
"""
import logging
from datetime import datetime, timedelta
from decimal import Decimal

from sqlmodel import Session, select

from backend.core.clock import utcnow
from backend.core.errors import Conflict, ScanPowerError
from backend.core.rows import insert_once
from billing.ledger import service as ledger
from billing.payments import orders
from billing.payments.interface import (Checkout, HoldRef, Order, OrderState, Payer, PaymentDeclined,
                                        PaymentProvider, from_fen, to_fen)
from billing.payments.models import Hold, HoldStatus
from billing.payments.service import clearing_account, display_name
from billing.wallet.charges import charge_wallet
from billing.wallet.service import lock_wallet, wallet_balance

log = logging.getLogger(__name__)

# Stripe cancels an uncaptured PaymentIntent 7 days after it was created; settle or renew
# holds half a day before that.
HOLD_LIFETIME = timedelta(days=7)
NEAR_EXPIRY_AGE = HOLD_LIFETIME - timedelta(hours=12)
HOLD_LABEL = {"stripe": "card hold", "wechat": "WeChat Pay Score order", "alipay": "Alipay freeze"}


class HoldTooSmall(ScanPowerError):
    status_code = 400


class HoldClosed(Conflict):
    pass


def place_hold(db: Session, user_id: int, amount: Decimal, provider: PaymentProvider, *,
               session_id: int | None = None, idempotency_key: str | None = None) -> Hold:
    """Reserve `amount` on the vendor's card at once; PaymentDeclined if the card refuses."""
    _check_minimum(amount, provider)
    key = idempotency_key or orders.out_trade_no(orders.HOLD)
    checkout = provider.hold(Order(key, user_id, to_fen(amount), "ScanPower session", "hold"), key)
    if checkout.state is not OrderState.held:
        raise PaymentDeclined(checkout.reason or "the card was declined")
    insert_once(db, Hold(user_id=user_id, session_id=session_id, provider=provider.name,
                         external_id=checkout.external_id, transaction_id=checkout.transaction_id, amount=amount,
                         minimum_capture=from_fen(provider.capabilities.minimum_fen)), "external_id")
    return hold_by_intent(db, checkout.external_id)


def ask_for_hold(db: Session, user_id: int, amount: Decimal, provider: PaymentProvider, outlet_id: int,
                 payer: Payer, idempotency_key: str | None = None) -> tuple[Hold, Checkout]:
    """Ask the payer to confirm a hold in the app (支付分, 资金预授权); what the phone needs to show it."""
    _check_minimum(amount, provider)
    number = orders.out_trade_no(orders.HOLD, idempotency_key)
    checkout = provider.hold(Order(number, user_id, to_fen(amount), "扫码用电 ScanPower", "hold", payer), number)
    if checkout.state is OrderState.failed:
        raise PaymentDeclined(checkout.reason or "the payment service refused the hold")
    insert_once(db, Hold(user_id=user_id, provider=provider.name, external_id=number, outlet_id=outlet_id,
                         amount=amount, status=HoldStatus.pending,
                         minimum_capture=from_fen(provider.capabilities.minimum_fen)), "external_id")
    return hold_by_intent(db, number), checkout


def confirm_hold(db: Session, hold: Hold, transaction_id: str | None) -> bool:
    """The payer confirmed the hold in the app; True the first time."""
    hold = _locked(db, hold)
    if hold.status is not HoldStatus.pending:
        return False
    hold.status = HoldStatus.authorized
    hold.transaction_id = transaction_id or hold.transaction_id
    db.add(hold)
    db.flush()
    return True


def capture_hold(db: Session, hold: Hold, settled_amount: Decimal, provider: PaymentProvider,
                 free: Decimal | None = None) -> Hold:
    """Charge a session's settled amount from the hold when the provider allows it, else from the wallet.

    `free`: what the wallet may give, decided under its lock (default: its balance); the rest is owed.
    """
    if settled_amount < 0:
        raise ValueError(f"a settled amount cannot be negative: {settled_amount}")
    hold = _locked(db, hold)
    if not hold.status.is_open:
        if hold.settled_amount == settled_amount:
            return hold  # a retry of a settlement already done
        raise HoldClosed(f"hold {hold.id} is {hold.status.value}")
    minimum = from_fen(provider.capabilities.minimum_fen)
    taken = min(settled_amount, hold.amount)
    if taken >= minimum:
        transaction = provider.capture(_ref(hold), to_fen(taken))
        if taken < hold.amount:
            provider.release(_ref(hold), to_fen(hold.amount - taken), to_fen(taken))
        hold.transaction_id = transaction or hold.transaction_id
        _post_capture(db, hold, taken)
        status = HoldStatus.captured
    else:
        provider.release(_ref(hold), to_fen(hold.amount), 0)
        taken = Decimal("0.00")
        status = HoldStatus.charged_to_wallet if settled_amount else HoldStatus.released
    from_wallet = settled_amount - taken
    if from_wallet:
        _post_wallet_charge(db, hold, from_wallet, settled_amount, minimum, free)
    return _close(db, hold, status, taken, from_wallet)


def release_hold(db: Session, hold: Hold, provider: PaymentProvider) -> Hold:
    """Give the whole reservation back: the session never started."""
    hold = _locked(db, hold)
    if hold.status is HoldStatus.released:
        return hold
    if not hold.status.is_open:
        raise HoldClosed(f"hold {hold.id} is {hold.status.value}")
    provider.release(_ref(hold), to_fen(hold.amount), 0)
    return _close(db, hold, HoldStatus.released, Decimal("0.00"), Decimal("0.00"))


def fail_pending_hold(db: Session, hold: Hold, reason: str) -> Hold:
    """A hold the payer never confirmed (its order was closed at the provider)."""
    hold = _locked(db, hold)
    if hold.status is HoldStatus.pending:
        log.info("hold %s (%s) never confirmed: %s", hold.id, hold.external_id, reason)
        _close(db, hold, HoldStatus.failed, Decimal("0.00"), Decimal("0.00"))
    return hold


def holds_near_expiry(db: Session, now: datetime) -> list[Hold]:
    """Open holds older than 6.5 days: settle or replace them before Stripe lets them lapse."""
    query = (select(Hold).where(Hold.status == HoldStatus.authorized, Hold.created_at <= now - NEAR_EXPIRY_AGE)
             .order_by(Hold.created_at))
    return list(db.exec(query))


def mark_hold_canceled(db: Session, payment_intent_id: str, reason: str) -> Hold | None:
    """The provider canceled an open hold (it lapsed, or was canceled in the dashboard)."""
    hold = hold_by_intent(db, payment_intent_id)
    if hold is not None:
        hold = _locked(db, hold)
    if hold is not None and hold.status.is_open:
        log.warning("hold %s (%s) canceled by %s: %s", hold.id, payment_intent_id, hold.provider, reason)
        _close(db, hold, HoldStatus.canceled, Decimal("0.00"), Decimal("0.00"))
    return hold


def hold_by_intent(db: Session, external_id: str) -> Hold | None:
    query = select(Hold).where(Hold.external_id == external_id).execution_options(populate_existing=True)
    return db.exec(query).first()


def _check_minimum(amount: Decimal, provider: PaymentProvider) -> None:
    minimum = from_fen(provider.capabilities.minimum_fen)
    if amount < minimum:
        raise HoldTooSmall(f"a {HOLD_LABEL.get(provider.name, 'hold')} must be at least ¥{minimum}")


def _ref(hold: Hold) -> HoldRef:
    return HoldRef(hold.external_id, hold.transaction_id, to_fen(hold.amount))


def _locked(db: Session, hold: Hold) -> Hold:
    """The hold as committed now, with its vendor's wallet locked: it is settled once."""
    lock_wallet(db, hold.user_id)
    return hold_by_intent(db, hold.external_id)


def _close(db: Session, hold: Hold, status: HoldStatus, taken: Decimal, from_wallet: Decimal) -> Hold:
    hold.status = status
    hold.captured_amount = taken
    hold.wallet_amount = from_wallet
    hold.closed_at = utcnow()
    db.add(hold)
    db.flush()
    return hold


def _post_capture(db: Session, hold: Hold, taken: Decimal) -> None:
    revenue = ledger.account(db, ledger.REVENUE, "revenue")
    label = HOLD_LABEL.get(hold.provider, "hold")
    memo = (f"{_session(hold)}: captured ¥{taken} of the ¥{hold.amount} {label} {hold.external_id}, "
            f"¥{hold.amount - taken} released")
    ledger.transfer(db, f"hold-capture:{hold.external_id}", "hold_capture", clearing_account(db, hold.provider),
                    revenue, taken, memo=memo[:255], session_id=hold.session_id)


def _post_wallet_charge(db: Session, hold: Hold, from_wallet: Decimal, settled: Decimal, minimum: Decimal,
                        free: Decimal | None) -> None:
    label = HOLD_LABEL.get(hold.provider, "hold")
    if settled < minimum:
        why = (f"¥{settled} is below {display_name(hold.provider)}'s ¥{minimum} minimum; "
               f"{label} {hold.external_id} released")
    else:
        why = f"¥{from_wallet} above the ¥{hold.amount} {label} {hold.external_id}"
    free = wallet_balance(db, hold.user_id) if free is None else free
    charge_wallet(db, hold.user_id, f"hold-wallet:{hold.external_id}", "hold_wallet_charge", from_wallet, free,
                  f"{_session(hold)}: {why}, charged to wallet", hold.session_id)


def _session(hold: Hold) -> str:
    return f"session {hold.session_id}" if hold.session_id else f"hold {hold.id}"
