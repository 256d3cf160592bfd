"""Webhooks from payment services: `POST /api/v1/webhooks/stripe`, `/wechat` and `/alipay`."""
import logging
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel

from backend.core.api_errors import ApiRoute, refusals
from backend.core.errors import NotFound
from backend.deps import SessionDep, SettingsDep
from backend.payments.deps import Payments
from backend.payments.service import receive_notification
from billing.payments import webhooks
from billing.payments.interface import BadSignature, PaymentProvider, PaymentServiceUnavailable
from billing.payments.stripe_events import UnreadableEvent
from billing.payments.stripe_provider import StripeProvider

log = logging.getLogger(__name__)
router = APIRouter(prefix="/webhooks", tags=["webhooks"], route_class=ApiRoute)


class StripeNotConfigured(NotFound):
    pass


class ProviderNotConfigured(NotFound):
    pass


class WebhookAck(BaseModel):
    received: bool = True
    outcome: webhooks.Outcome


class WeChatAck(BaseModel):
    """What WeChat Pay expects back: any 2xx means received."""

    code: str = "SUCCESS"
    message: str = "成功"


async def raw_body(request: Request) -> bytes:
    """The body exactly as sent: the signature covers these bytes, not a re-encoded JSON."""
    return await request.body()


async def form_body(request: Request) -> bytes:
    """A form post's fields, encoded again: the app-wide NUL guard has read the stream already.

    Alipay signs the decoded field values, not the bytes, so nothing is lost."""
    form = await request.form()
    return urlencode([(k, v) for k, v in form.multi_items() if isinstance(v, str)]).encode()


def stripe_provider(request: Request) -> StripeProvider:
    provider = request.app.state.payments.by_name.get("stripe")
    if not isinstance(provider, StripeProvider):
        raise StripeNotConfigured("Stripe payments are not configured")
    return provider


def _provider(payments, name: str) -> PaymentProvider:
    if name not in payments.by_name:
        raise ProviderNotConfigured(f"{name} payments are not configured here")
    return payments.by_name[name]


@router.post("/stripe", response_model=WebhookAck,
             responses=refusals(StripeNotConfigured, BadSignature, UnreadableEvent))
def stripe_webhook(request: Request, db: SessionDep, body: Annotated[bytes, Depends(raw_body)],
                   provider: Annotated[StripeProvider, Depends(stripe_provider)],
                   stripe_signature: Annotated[str | None, Header()] = None) -> WebhookAck:
    """Receive a Stripe event: verified on the raw body, stored once by id, handled once."""
    event = provider.parse_event(body, stripe_signature)
    outcome = webhooks.receive_event(db, event, provider)
    request.app.state.http_metrics.webhooks.labels("stripe", outcome.value).inc()
    log.info("stripe event %s %s: %s", event.id, event.type, outcome.value)
    return WebhookAck(outcome=outcome)


@router.post("/wechat", response_model=WeChatAck,
             responses=refusals(ProviderNotConfigured, BadSignature, PaymentServiceUnavailable))
def wechat_webhook(request: Request, db: SessionDep, settings: SettingsDep, payments: Payments,
                   body: Annotated[bytes, Depends(raw_body)]) -> WeChatAck:
    """Receive a WeChat Pay notification: signature and timestamp checked, resource decrypted, stored once by id."""
    provider = _provider(payments, "wechat")
    note = provider.parse_notification(request.headers, body)
    fresh = receive_notification(db, provider, note, settings)
    request.app.state.http_metrics.webhooks.labels("wechat", "handled" if fresh else "duplicate").inc()
    return WeChatAck()


@router.post("/alipay", response_class=Response,
             responses={200: {"content": {"text/plain": {"schema": {"type": "string", "enum": ["success"]}}}},
                        **refusals(ProviderNotConfigured, BadSignature, PaymentServiceUnavailable)})
def alipay_webhook(request: Request, db: SessionDep, settings: SettingsDep, payments: Payments,
                   body: Annotated[bytes, Depends(form_body)]) -> Response:
    """Receive an Alipay notification (a signed form post): verified, stored once by notify_id; answers `success`."""
    provider = _provider(payments, "alipay")
    note = provider.parse_notification(request.headers, body)
    fresh = receive_notification(db, provider, note, settings)
    request.app.state.http_metrics.webhooks.labels("alipay", "handled" if fresh else "duplicate").inc()
    return PlainTextResponse("success")
