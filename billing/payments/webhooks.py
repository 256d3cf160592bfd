"""Stripe webhook events: stored once per id and handled in the same transaction.

Storing and handling commit together, so an event is never marked as seen without its
effects (a failure rolls both back and Stripe delivers it again), and a redelivery of a
handled event finds its id taken and changes nothing.
"""
import logging
from collections.abc import Callable
from enum import StrEnum

from sqlmodel import Session

from backend.core.clock import utcnow
from backend.users.models import User
from billing.payments.holds import mark_hold_canceled
from billing.payments.models import StripeEvent
from billing.payments.refunds import reconcile_refunds
from backend.core.rows import insert_once
from billing.payments.service import credit_top_up, record_failed_payment
from billing.payments.stripe_events import Charge, Event, Intent, read
from billing.payments.stripe_provider import PURPOSE_HOLD, PURPOSE_TOP_UP, StripeProvider, from_fen

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    handled = "handled"
    ignored = "ignored"  # a type we do not act on; stored all the same
    duplicate = "duplicate"


def receive_event(db: Session, event: Event, provider: StripeProvider) -> Outcome:
    """Store the event unless its id was seen before, then handle it."""
    obj = event.data.object
    object_id = str(obj.get("id", ""))[:255]
    if not insert_once(db, StripeEvent(id=event.id, type=event.type, object_id=object_id), "id"):
        log.info("stripe event %s (%s) seen before; acknowledged, nothing done", event.id, event.type)
        return Outcome.duplicate
    handler = HANDLERS.get(event.type)
    if handler is not None:
        handler(db, obj, provider)
    stored = db.get(StripeEvent, event.id)
    stored.processed_at = utcnow()
    db.add(stored)
    db.flush()
    return Outcome.handled if handler is not None else Outcome.ignored


def _intent_succeeded(db: Session, obj: dict, provider: StripeProvider) -> None:
    intent = read(Intent, obj, "payment intent")
    if _purpose(db, intent) == PURPOSE_TOP_UP:
        # Capture-at-once intents receive their whole amount; localstripe omits amount_received.
        received = intent.amount_received or intent.amount
        credit_top_up(db, intent.user_id, provider.name, intent.id, from_fen(received))
    # A hold succeeds when capture_hold captures it, which already booked the money.


def _intent_failed(db: Session, obj: dict, provider: StripeProvider) -> None:
    intent = read(Intent, obj, "payment intent")
    if _purpose(db, intent) == PURPOSE_TOP_UP:
        record_failed_payment(db, intent.user_id, provider.name, intent.id, from_fen(intent.amount))


def _intent_canceled(db: Session, obj: dict, provider: StripeProvider) -> None:
    intent = read(Intent, obj, "payment intent")
    if _purpose(db, intent) == PURPOSE_HOLD:
        mark_hold_canceled(db, intent.id, intent.cancellation_reason or "canceled")
    else:
        _intent_failed(db, obj, provider)


def _charge_refunded(db: Session, obj: dict, provider: StripeProvider) -> None:
    intent_id = read(Charge, obj, "charge").intent_id
    if intent_id:
        reconcile_refunds(db, intent_id, obj, provider)


def _purpose(db: Session, intent: Intent) -> str:
    """Which of our flows made the intent; empty for intents made elsewhere on the account."""
    if intent.user_id is None or db.get(User, intent.user_id) is None:
        return ""
    return intent.purpose


HANDLERS: dict[str, Callable[[Session, dict, StripeProvider], None]] = {
    "payment_intent.succeeded": _intent_succeeded,
    "payment_intent.payment_failed": _intent_failed,
    "payment_intent.canceled": _intent_canceled,
    "charge.refunded": _charge_refunded,
}
