"""Stripe, through the official SDK: card top-ups, pre-authorisation holds, refunds, webhook events.

Every write carries an idempotency key, so a retry after a timeout or a crash can never
charge, capture or refund twice. Amounts cross this boundary as Decimal yuan and travel to
Stripe as integer fen (CNY's minor unit).
"""
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal

import stripe

from backend.core.errors import ScanPowerError
from backend.core.types import FEN
from billing.payments.providers import Charge
from billing.payments.stripe_events import Event, read_event

log = logging.getLogger(__name__)

# Stripe's documented floor is "$0.50 US or the equivalent in the charge currency"; CNY is
# not in its per-currency table, so we use ¥4.00 (≈ $0.55), a little above the equivalent,
# so that exchange-rate moves never push a capture under the limit.
STRIPE_MIN_CHARGE_CNY = Decimal("4.00")
TEST_CARD = "pm_card_visa"
PURPOSE_TOP_UP = "top_up"
PURPOSE_HOLD = "hold"
REFUND_MARK = "scanpower_refund"


class BadSignature(ScanPowerError):
    """The webhook body does not carry a valid Stripe-Signature for our secret."""


class PaymentServiceUnavailable(ScanPowerError):
    """Stripe did not answer, or answered with an error other than a declined card."""

    status_code = 502


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


def to_fen(amount: Decimal) -> int:
    if amount != amount.quantize(FEN):
        raise ValueError(f"money must be whole fen, got {amount}")
    return int(amount * 100)


def from_fen(fen: int) -> Decimal:
    return (Decimal(fen) / 100).quantize(FEN)


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


class StripeProvider:
    """The PaymentProvider for real cards; also places holds and refunds them."""

    name = "stripe"

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

    def capture(self, payment_intent_id: str, amount: Decimal) -> Intent:
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

    def refund(self, payment_intent_id: str, amount: Decimal, reason: str, idempotency_key: str) -> StripeRefund:
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
                        created=refund.created)


def _failed_id(error: stripe.CardError, key: str) -> str:
    details = error.error.to_dict() if error.error else {}
    intent = details.get("payment_intent") or {}
    return intent.get("id") or details.get("charge") or f"failed:{key}"


def _decline_reason(error: stripe.CardError) -> str:
    log.info("card declined: %s", error.user_message)
    return error.user_message or "the card was declined"
