"""Stripe, through the official SDK: card top-ups, pre-authorisation holds, refunds, webhook events.

Every write carries an idempotency key, so a retry after a timeout or a crash can never
charge, capture or refund twice. Amounts travel to Stripe as integer fen (CNY's minor unit).
The PaymentProvider methods (`pay`, `hold`, `capture`, …) speak fen; the card methods under
them (`charge`, `authorize`, …) take Decimal yuan.
"""
import logging
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import stripe

from billing.payments.interface import (BadSignature, Capabilities, Checkout, HoldRef, Notification,
                                        NotificationKind, Order, OrderState, OrderStatus, PaidRef,
                                        PaymentServiceUnavailable, RefundResult, RefundState, StatementLine,
                                        from_fen, to_fen)
from billing.payments.providers import Charge
from billing.payments.stripe_events import Event, read_event

__all__ = ["BadSignature", "PaymentServiceUnavailable", "StripeProvider", "from_fen", "to_fen"]

log = logging.getLogger(__name__)

# Stripe's documented floor is "$0.50 US or the equivalent in the charge currency"; CNY is
# not in its per-currency table, so we use ¥4.00 (≈ $0.55), a little above the equivalent,
# so that exchange-rate moves never push a capture under the limit.
STRIPE_MIN_CHARGE_CNY = Decimal("4.00")
TEST_CARD = "pm_card_visa"
PURPOSE_TOP_UP = "top_up"
PURPOSE_HOLD = "hold"
REFUND_MARK = "scanpower_refund"


@contextmanager
def _stripe_answers(what: str) -> Iterator[None]:
    """A Stripe failure becomes a 502 that says nothing was booked (the idempotency key makes a retry safe)."""
    try:
        yield
    except stripe.CardError:
        raise
    except stripe.StripeError as error:
        log.warning("stripe could not %s: %r", what, error)
        raise PaymentServiceUnavailable(f"the card service could not {what} just now; nothing was booked, "
                                        f"try again in a moment") from error


@dataclass(frozen=True)
class Intent:
    id: str
    status: str


@dataclass(frozen=True)
class StripeRefund:
    id: str
    amount: Decimal
    ours: bool  # made by ScanPower (carries our mark), not in the Stripe dashboard
    created: int
    status: str = "succeeded"

    @property
    def state(self) -> RefundState:
        if self.status in ("failed", "canceled"):
            return RefundState.failed
        return RefundState.succeeded if self.status == "succeeded" else RefundState.pending


INTENT_STATES = {"succeeded": OrderState.paid, "requires_capture": OrderState.held, "canceled": OrderState.closed,
                 "processing": OrderState.pending, "requires_action": OrderState.pending,
                 "requires_confirmation": OrderState.pending, "requires_payment_method": OrderState.failed}
EVENT_KINDS = {"payment_intent.succeeded": NotificationKind.paid, "payment_intent.canceled": NotificationKind.closed,
               "payment_intent.payment_failed": NotificationKind.closed}


class StripeProvider:
    """The PaymentProvider for real cards: charges at once, holds, captures part, refunds."""

    name = "stripe"
    capabilities = Capabilities(instant=True, hold=True, refund=True, statement=False,
                                minimum_fen=to_fen(STRIPE_MIN_CHARGE_CNY))

    def __init__(self, secret_key: str, webhook_secret: str, api_base: str = "", currency: str = "cny",
                 payment_method: str = TEST_CARD, max_network_retries: int = 2,
                 http_client: stripe.HTTPClient | None = None):
        base_addresses = {"api": api_base} if api_base else None
        self.client = stripe.StripeClient(secret_key, base_addresses=base_addresses,
                                          max_network_retries=max_network_retries, http_client=http_client)
        self.webhook_secret = webhook_secret
        self.currency = currency
        self.payment_method = payment_method
        self.minimum_charge = STRIPE_MIN_CHARGE_CNY

    def charge(self, user_id: int, amount: Decimal, idempotency_key: str | None = None) -> Charge:
        """Create and confirm a PaymentIntent that captures at once (a wallet top-up)."""
        key = idempotency_key or f"topup:{uuid.uuid4().hex}"
        try:
            intent = self._create_intent(user_id, amount, PURPOSE_TOP_UP, "automatic", key)
        except stripe.CardError as error:
            return Charge(external_id=_failed_id(error, key), succeeded=False, reason=_decline_reason(error))
        if intent.status != "succeeded":
            return Charge(external_id=intent.id, succeeded=False, reason=f"the payment is {intent.status}")
        return Charge(external_id=intent.id, succeeded=True)

    def authorize(self, user_id: int, amount: Decimal, idempotency_key: str) -> Intent:
        """Reserve `amount` on the card (capture_method=manual); raises stripe.CardError if declined."""
        return self._create_intent(user_id, amount, PURPOSE_HOLD, "manual", idempotency_key)

    def capture_intent(self, payment_intent_id: str, amount: Decimal) -> Intent:
        """Take `amount` of an authorised PaymentIntent; Stripe releases the rest."""
        with _stripe_answers("capture a card hold"):
            intent = self.client.v1.payment_intents.capture(
                payment_intent_id, params={"amount_to_capture": to_fen(amount)},
                options={"idempotency_key": f"capture:{payment_intent_id}"})
        return Intent(intent.id, intent.status)

    def cancel(self, payment_intent_id: str) -> Intent:
        """Release the whole authorisation."""
        with _stripe_answers("release a card hold"):
            intent = self.client.v1.payment_intents.cancel(
                payment_intent_id, options={"idempotency_key": f"cancel:{payment_intent_id}"})
        return Intent(intent.id, intent.status)

    def refund_intent(self, payment_intent_id: str, amount: Decimal, reason: str,
                      idempotency_key: str) -> StripeRefund:
        # Our free-text reason goes in metadata: Stripe's `reason` only takes three fixed values.
        with _stripe_answers("make the refund"):
            refund = self.client.v1.refunds.create(
                params={"payment_intent": payment_intent_id, "amount": to_fen(amount),
                        "metadata": {REFUND_MARK: idempotency_key, "reason": reason[:500]}},
                options={"idempotency_key": idempotency_key})
        return _refund_of(refund)

    def refunds_of(self, payment_intent_id: str) -> list[StripeRefund]:
        """Every refund Stripe holds for the PaymentIntent, oldest first."""
        with _stripe_answers("list the refunds"):
            listing = self.client.v1.refunds.list(params={"payment_intent": payment_intent_id, "limit": 100})
            return sorted((_refund_of(r) for r in listing.auto_paging_iter()), key=lambda r: (r.created, r.id))

    def parse_event(self, payload: bytes, signature: str | None) -> Event:
        """The event, once its Stripe-Signature matches the raw body (else BadSignature) and it reads as one."""
        try:
            stripe.WebhookSignature.verify_header(payload, signature, self.webhook_secret,
                                                  tolerance=stripe.Webhook.DEFAULT_TOLERANCE)
        except (stripe.SignatureVerificationError, ValueError) as error:
            log.warning("stripe webhook rejected: %s", error)
            raise BadSignature(str(error)) from error
        return read_event(payload)

    # The PaymentProvider interface, in fen.

    def pay(self, order: Order, idempotency_key: str) -> Checkout:
        charge = self.charge(order.user_id, from_fen(order.amount_fen), idempotency_key)
        state = OrderState.paid if charge.succeeded else OrderState.failed
        return Checkout(charge.external_id, state, charge.external_id, reason=charge.reason)

    def hold(self, order: Order, idempotency_key: str) -> Checkout:
        try:
            intent = self.authorize(order.user_id, from_fen(order.amount_fen), idempotency_key)
        except stripe.CardError as error:
            return Checkout(_failed_id(error, idempotency_key), OrderState.failed, reason=_decline_reason(error))
        if intent.status != "requires_capture":
            self.cancel(intent.id)  # e.g. it needs 3-D Secure, which a server-side confirm cannot do
            return Checkout(intent.id, OrderState.failed, reason=f"the card could not be authorised ({intent.status})")
        return Checkout(intent.id, OrderState.held, intent.id)

    def capture(self, hold: HoldRef, amount_fen: int) -> str | None:
        return self.capture_intent(hold.external_id, from_fen(amount_fen)).id

    def release(self, hold: HoldRef, amount_fen: int, captured_fen: int) -> None:
        if captured_fen == 0:  # after a capture Stripe has released the rest already
            self.cancel(hold.external_id)

    def refund(self, paid: PaidRef, sequence: int, amount_fen: int, reason: str) -> RefundResult:
        made = self.refund_intent(paid.external_id, from_fen(amount_fen), reason,
                                  f"refund:{paid.external_id}:{sequence}:{amount_fen}")
        return RefundResult(made.id, to_fen(made.amount), made.state, made.id)

    def query(self, external_id: str, purpose: str) -> OrderStatus:
        with _stripe_answers("look up the payment"):
            intent = self.client.v1.payment_intents.retrieve(external_id)
        return OrderStatus(INTENT_STATES.get(intent.status, OrderState.pending), intent.id, intent.amount)

    def query_refund(self, paid: PaidRef, refund_id: str) -> RefundResult:
        with _stripe_answers("look up the refund"):
            return _result_of(_refund_of(self.client.v1.refunds.retrieve(refund_id)))

    def close(self, external_id: str, purpose: str) -> None:
        self.cancel(external_id)

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> Notification:
        event = self.parse_event(body, headers.get("stripe-signature"))
        object_id = str(event.data.object.get("id", ""))
        return Notification(event.id, event.type, EVENT_KINDS.get(event.type, NotificationKind.other), object_id,
                            object_id)

    def statement(self, day: date) -> list[StatementLine]:
        return []  # Stripe's books are followed event by event (webhooks, reconcile_refunds) instead

    def _create_intent(self, user_id: int, amount: Decimal, purpose: str, capture_method: str,
                       key: str) -> Intent:
        with _stripe_answers("take the card payment"):
            intent = self.client.v1.payment_intents.create(
                params={"amount": to_fen(amount), "currency": self.currency, "payment_method": self.payment_method,
                        "payment_method_types": ["card"], "capture_method": capture_method, "confirm": True,
                        "metadata": {"user_id": str(user_id), "purpose": purpose}},
                options={"idempotency_key": key})
        return Intent(intent.id, intent.status)


def _refund_of(refund: stripe.Refund) -> StripeRefund:
    metadata = refund.to_dict().get("metadata") or {}
    return StripeRefund(id=refund.id, amount=from_fen(refund.amount), ours=REFUND_MARK in metadata,
                        created=refund.created, status=refund.to_dict().get("status") or "succeeded")


def _result_of(refund: StripeRefund) -> RefundResult:
    return RefundResult(refund.id, to_fen(refund.amount), refund.state, refund.id)


def _failed_id(error: stripe.CardError, key: str) -> str:
    details = error.error.to_dict() if error.error else {}
    intent = details.get("payment_intent") or {}
    return intent.get("id") or details.get("charge") or f"failed:{key}"


def _decline_reason(error: stripe.CardError) -> str:
    log.info("card declined: %s", error.user_message)
    return error.user_message or "the card was declined"
