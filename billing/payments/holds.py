"""Card pre-authorisation per session: reserve on the card, capture what was used, release the rest.

An authorisation moves no money, so placing a hold writes no ledger entry. Settling it does:
    captured by card    clearing:stripe -> revenue:electricity
    charged to wallet   wallet:<user>   -> revenue:electricity   (below Stripe's minimum, or above the hold)
"""
import logging
import uuid
from datetime import datetime, timedelta
from decimal import Decimal

import stripe
from sqlmodel import Session, select

from backend.core.clock import utcnow
from backend.core.errors import Conflict, ScanPowerError
from billing.ledger import service as ledger
from billing.payments.models import Hold, HoldStatus
from backend.core.rows import insert_once
from billing.payments.service import PaymentDeclined, clearing_account
from billing.payments.stripe_provider import StripeProvider
from billing.wallet.service import lock_wallet, wallet_account

log = logging.getLogger(__name__)

# Stripe cancels an uncaptured PaymentIntent 7 days after it was created; settle or renew
# holds half a day before that.
HOLD_LIFETIME = timedelta(days=7)
NEAR_EXPIRY_AGE = HOLD_LIFETIME - timedelta(hours=12)


class HoldTooSmall(ScanPowerError):
    status_code = 400


class HoldClosed(Conflict):
    pass


def place_hold(db: Session, user_id: int, amount: Decimal, provider: StripeProvider, *,
               session_id: int | None = None, idempotency_key: str | None = None) -> Hold:
    """Reserve `amount` on the vendor's card; PaymentDeclined if the card refuses."""
    if amount < provider.minimum_charge:
        raise HoldTooSmall(f"a card hold must be at least ¥{provider.minimum_charge}")
    try:
        intent = provider.authorize(user_id, amount, idempotency_key or f"hold:{uuid.uuid4().hex}")
    except stripe.CardError as error:
        raise PaymentDeclined(error.user_message or "the card was declined") from error
    if intent.status != "requires_capture":
        provider.cancel(intent.id)  # e.g. it needs 3-D Secure, which a server-side confirm cannot do
        raise PaymentDeclined(f"the card could not be authorised ({intent.status})")
    insert_once(db, Hold(user_id=user_id, session_id=session_id, payment_intent_id=intent.id, amount=amount),
                "payment_intent_id")
    return hold_by_intent(db, intent.id)


def capture_hold(db: Session, hold: Hold, settled_amount: Decimal, provider: StripeProvider) -> Hold:
    """Charge a session's settled amount: by card when Stripe allows it, else from the wallet."""
    if settled_amount < 0:
        raise ValueError(f"a settled amount cannot be negative: {settled_amount}")
    hold = _locked(db, hold)
    if not hold.status.is_open:
        if hold.settled_amount == settled_amount:
            return hold  # a retry of a settlement already done
        raise HoldClosed(f"hold {hold.id} is {hold.status.value}")
    by_card = min(settled_amount, hold.amount)
    if by_card >= provider.minimum_charge:
        provider.capture(hold.payment_intent_id, by_card)
        _post_card_capture(db, hold, by_card)
        status = HoldStatus.captured
    else:
        provider.cancel(hold.payment_intent_id)
        by_card = Decimal("0.00")
        status = HoldStatus.charged_to_wallet if settled_amount else HoldStatus.released
    from_wallet = settled_amount - by_card
    if from_wallet:
        _post_wallet_charge(db, hold, from_wallet, settled_amount, provider.minimum_charge)
    return _close(db, hold, status, by_card, from_wallet)


def release_hold(db: Session, hold: Hold, provider: StripeProvider) -> Hold:
    """Give the whole reservation back: the session never started."""
    hold = _locked(db, hold)
    if hold.status is HoldStatus.released:
        return hold
    if not hold.status.is_open:
        raise HoldClosed(f"hold {hold.id} is {hold.status.value}")
    provider.cancel(hold.payment_intent_id)
    return _close(db, hold, HoldStatus.released, Decimal("0.00"), Decimal("0.00"))


def holds_near_expiry(db: Session, now: datetime) -> list[Hold]:
    """Open holds older than 6.5 days: settle or replace them before Stripe lets them lapse."""
    query = (select(Hold).where(Hold.status == HoldStatus.authorized, Hold.created_at <= now - NEAR_EXPIRY_AGE)
             .order_by(Hold.created_at))
    return list(db.exec(query))


def mark_hold_canceled(db: Session, payment_intent_id: str, reason: str) -> Hold | None:
    """Stripe canceled an open hold (it lapsed, or was canceled in the dashboard)."""
    hold = hold_by_intent(db, payment_intent_id)
    if hold is not None:
        hold = _locked(db, hold)
    if hold is not None and hold.status.is_open:
        log.warning("hold %s (%s) canceled by Stripe: %s", hold.id, payment_intent_id, reason)
        _close(db, hold, HoldStatus.canceled, Decimal("0.00"), Decimal("0.00"))
    return hold


def hold_by_intent(db: Session, payment_intent_id: str) -> Hold | None:
    query = select(Hold).where(Hold.payment_intent_id == payment_intent_id).execution_options(populate_existing=True)
    return db.exec(query).first()


def _locked(db: Session, hold: Hold) -> Hold:
    """The hold as committed now, with its vendor's wallet locked: it is settled once."""
    lock_wallet(db, hold.user_id)
    return hold_by_intent(db, hold.payment_intent_id)


def _close(db: Session, hold: Hold, status: HoldStatus, by_card: Decimal, from_wallet: Decimal) -> Hold:
    hold.status = status
    hold.captured_amount = by_card
    hold.wallet_amount = from_wallet
    hold.closed_at = utcnow()
    db.add(hold)
    db.flush()
    return hold


def _post_card_capture(db: Session, hold: Hold, by_card: Decimal) -> None:
    revenue = ledger.account(db, ledger.REVENUE, "revenue")
    memo = (f"{_session(hold)}: captured ¥{by_card} of the ¥{hold.amount} card hold {hold.payment_intent_id}, "
            f"¥{hold.amount - by_card} released")
    ledger.transfer(db, f"hold-capture:{hold.payment_intent_id}", "hold_capture", clearing_account(db, "stripe"),
                    revenue, by_card, memo=memo[:255], session_id=hold.session_id)


def _post_wallet_charge(db: Session, hold: Hold, from_wallet: Decimal, settled: Decimal, minimum: Decimal) -> None:
    revenue = ledger.account(db, ledger.REVENUE, "revenue")
    if settled < minimum:
        why = f"¥{settled} is below Stripe's ¥{minimum} minimum; card hold {hold.payment_intent_id} released"
    else:
        why = f"¥{from_wallet} above the ¥{hold.amount} card hold {hold.payment_intent_id}"
    ledger.transfer(db, f"hold-wallet:{hold.payment_intent_id}", "hold_wallet_charge",
                    wallet_account(db, hold.user_id), revenue, from_wallet,
                    memo=f"{_session(hold)}: {why}, charged to wallet"[:255], session_id=hold.session_id)


def _session(hold: Hold) -> str:
    return f"session {hold.session_id}" if hold.session_id else f"hold {hold.id}"
