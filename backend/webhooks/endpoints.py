"""Webhooks from payment services: `POST /api/v1/webhooks/stripe`."""
import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from pydantic import BaseModel

from backend.core.api_errors import ApiRoute, refusals
from backend.core.errors import NotFound
from backend.deps import SessionDep
from billing.payments import webhooks
from billing.payments.stripe_events import UnreadableEvent
from billing.payments.stripe_provider import BadSignature, StripeProvider

log = logging.getLogger(__name__)
router = APIRouter(prefix="/webhooks", tags=["webhooks"], route_class=ApiRoute)


class StripeNotConfigured(NotFound):
    pass


class WebhookAck(BaseModel):
    received: bool = True
    outcome: webhooks.Outcome


async def raw_body(request: Request) -> bytes:
    """The body exactly as sent: the signature covers these bytes, not a re-encoded JSON."""
    return await request.body()


def stripe_provider(request: Request) -> StripeProvider:
    provider = request.app.state.payment_provider
    if not isinstance(provider, StripeProvider):
        raise StripeNotConfigured("Stripe payments are not configured")
    return provider


@router.post("/stripe", response_model=WebhookAck,
             responses=refusals(StripeNotConfigured, BadSignature, UnreadableEvent))
def stripe_webhook(request: Request, db: SessionDep, body: Annotated[bytes, Depends(raw_body)],
                   provider: Annotated[StripeProvider, Depends(stripe_provider)],
                   stripe_signature: Annotated[str | None, Header()] = None) -> WebhookAck:
    """Receive a Stripe event: verified on the raw body, stored once by id, handled once."""
    event = provider.parse_event(body, stripe_signature)
    outcome = webhooks.receive_event(db, event, provider)
    request.app.state.counters.count("stripe_event", outcome.value)
    log.info("stripe event %s %s: %s", event.id, event.type, outcome.value)
    return WebhookAck(outcome=outcome)
