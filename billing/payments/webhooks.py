"""Stripe webhook events: stored once per id and handled in the same transaction.

Storing and handling commit together, so an event is never marked as seen without its
effects (a failure rolls both back and Stripe delivers it again), and a redelivery of a
handled event finds its id taken and changes nothing.
"""
import logging
from collections.abc import Callable
from enum import StrEnum

import stripe
from sqlmodel import Session

from backend.core.clock import utcnow
from billing.payments.holds import mark_hold_canceled
from billing.payments.models import StripeEvent
from billing.payments.refunds import reconcile_refunds
from backend.core.rows import insert_once
from billing.payments.service import credit_top_up, record_failed_payment
from billing.payments.stripe_provider import PURPOSE_HOLD, PURPOSE_TOP_UP, StripeProvider, from_fen

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    handled = "handled"
    ignored = "ignored"  # a type we do not act on; stored all the same
    duplicate = "duplicate"


def receive_event(db: Session, event: stripe.Event, provider: StripeProvider) -> Outcome:
    """Store the event unless its id was seen before, then handle it."""
    obj = event.to_dict()["data"]["object"]
    if not insert_once(db, StripeEvent(id=event.id, type=event.type, object_id=str(obj.get("id", ""))), "id"):
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


def _intent_succeeded(db: Session, intent: dict, provider: StripeProvider) -> None:
    if _purpose(intent) == PURPOSE_TOP_UP:
        # Capture-at-once intents receive their whole amount; localstripe omits amount_received.
        received = intent.get("amount_received") or intent["amount"]
        credit_top_up(db, _user_id(intent), provider.name, intent["id"], from_fen(received))
    # A hold succeeds when capture_hold captures it, which already booked the money.


def _intent_failed(db: Session, intent: dict, provider: StripeProvider) -> None:
    if _purpose(intent) == PURPOSE_TOP_UP:
        record_failed_payment(db, _user_id(intent), provider.name, intent["id"], from_fen(intent["amount"]))


def _intent_canceled(db: Session, intent: dict, provider: StripeProvider) -> None:
    if _purpose(intent) == PURPOSE_HOLD:
        mark_hold_canceled(db, intent["id"], intent.get("cancellation_reason") or "canceled")
    else:
        _intent_failed(db, intent, provider)


def _charge_refunded(db: Session, charge: dict, provider: StripeProvider) -> None:
    intent = charge.get("payment_intent")
    if intent:
        reconcile_refunds(db, intent if isinstance(intent, str) else intent["id"], charge, provider)


def _purpose(intent: dict) -> str:
    """Which of our flows made the intent; empty for intents made elsewhere on the account."""
    metadata = intent.get("metadata") or {}
    return metadata.get("purpose", "") if metadata.get("user_id", "").isdigit() else ""


def _user_id(intent: dict) -> int:
    return int(intent["metadata"]["user_id"])


HANDLERS: dict[str, Callable[[Session, dict, StripeProvider], None]] = {
    "payment_intent.succeeded": _intent_succeeded,
    "payment_intent.payment_failed": _intent_failed,
    "payment_intent.canceled": _intent_canceled,
    "charge.refunded": _charge_refunded,
}
