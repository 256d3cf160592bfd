from fastapi import APIRouter, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from backend.core.api_errors import SIGNED_IN, WITH_ROLE, ApiRoute, refusals
from backend.deps import BigId, CurrentUser, Operator, SessionDep, SettingsDep, Vendor
from backend.idempotency import IdempotencyKey, once
from backend.payments import views as payment_views
from backend.payments.deps import Payments, payer_of
from backend.payments.schemas import PaymentRequestPublic
from backend.payments.service import request_session_payment
from backend.points.service import OutletNotFound
from backend.sessions import service
from backend.sessions.models import ReceiptPublic, SessionPublic, SessionsPublic, SessionStart
from backend.sessions.receipts import ReceiptNotReady, receipt
from backend.sessions.refunds import RefundNotPossible, SessionRefund, refund_session
from backend.sessions.service import SessionNotFound, SessionNotStoppable
from backend.sessions.views import session_public
from billing.payments import refunds as card_refunds
from billing.payments.holds import HoldTooSmall
from billing.idempotency.service import IdempotencyKeyReused
from billing.payments.interface import PaymentDeclined, PaymentServiceUnavailable
from billing.payments.providers import PaymentMethodUnavailable

router = APIRouter(tags=["sessions"], route_class=ApiRoute)
START_REFUSALS = (*WITH_ROLE, service.NotAVendor, OutletNotFound, service.PointNotServing, service.OutletBusy,
                  service.MeterOffline, service.InsufficientBalance, service.CardPaymentsUnavailable, HoldTooSmall,
                  PaymentDeclined, PaymentServiceUnavailable, PaymentMethodUnavailable, IdempotencyKeyReused)
REFUND_REFUSALS = (*WITH_ROLE, SessionNotFound, RefundNotPossible, card_refunds.NothingToRefund,
                   card_refunds.RefundTooLarge, card_refunds.RefundExceedsBalance, PaymentDeclined,
                   PaymentServiceUnavailable, PaymentMethodUnavailable, IdempotencyKeyReused)
IN_APP = {202: {"model": PaymentRequestPublic,
                "description": "WeChat Pay or Alipay: confirm in the app with `pay_params`; the session starts when "
                               "the provider notifies us (follow it at /payments/orders/{order_no})"}}


@router.post("/sessions", response_model=SessionPublic, status_code=201,
             responses={**IN_APP, **refusals(*START_REFUSALS)})
def start_session(body: SessionStart, request: Request, db: SessionDep, vendor: Vendor, settings: SettingsDep,
                  payments: Payments, idempotency_key: IdempotencyKey = None):
    """Start a session on the scanned outlet: from the wallet or a card hold (201), or paid in WeChat Pay / Alipay
    (202: a 支付分 or 资金预授权 hold, else paid ahead; the unused part goes back at once)."""
    provider = payments.chosen(body.provider) if body.hold_amount is not None else None
    if provider is not None and not provider.capabilities.instant:
        key = f"session:{vendor.id}:{idempotency_key}" if idempotency_key else None

        def ask() -> PaymentRequestPublic:
            return payment_views.requested_public(request_session_payment(
                db, vendor, body.outlet_token, body.hold_amount, provider, payer_of(request, body.openid), key))
        asked = once(db, vendor.id, idempotency_key, "session", body, PaymentRequestPublic, ask)
        return JSONResponse(jsonable_encoder(asked), status_code=202)
    session = service.start_session(db, vendor, body.outlet_token, settings.min_start_balance,
                                    settings.command_timeout_seconds, body.hold_amount, provider)
    return session_public(session)


@router.get("/sessions", response_model=SessionsPublic, responses=refusals(*SIGNED_IN))
def list_sessions(db: SessionDep, user: CurrentUser, open_only: bool = False,
                  needs_review: bool = False) -> SessionsPublic:
    """Sessions the user may see, newest first (vendor: own; applicant: on own points; operator: all).

    `needs_review=true` lists those the meter's data made doubtful (register anomalies, unconfirmed stops)."""
    found = [session_public(s) for s in service.list_sessions(db, user, open_only, needs_review=needs_review)]
    return SessionsPublic(data=found, count=len(found))


@router.get("/sessions/{session_id}", response_model=SessionPublic, responses=refusals(*SIGNED_IN, SessionNotFound))
def read_session(session_id: BigId, db: SessionDep, user: CurrentUser) -> SessionPublic:
    """One session with live energy and cost while it runs, settled figures after."""
    return session_public(service.visible_session(db, user, session_id))


@router.post("/sessions/{session_id}/stop", response_model=SessionPublic,
             responses=refusals(*SIGNED_IN, SessionNotFound, SessionNotStoppable))
def stop_session(session_id: BigId, db: SessionDep, user: CurrentUser, settings: SettingsDep) -> SessionPublic:
    """Stop a session (its vendor, an operator, or the applicant of its point); the meter opens the relay."""
    session = service.request_stop(db, user, session_id, settings.command_timeout_seconds)
    return session_public(session)


@router.get("/sessions/{session_id}/receipt", response_model=ReceiptPublic,
            responses=refusals(*SIGNED_IN, SessionNotFound, ReceiptNotReady))
def read_receipt(session_id: BigId, db: SessionDep, user: CurrentUser) -> ReceiptPublic:
    """The settled bill: registers, energy and money per tariff period, service fees, and a hint."""
    return receipt(db, service.visible_session(db, user, session_id))


@router.post("/sessions/{session_id}/refunds", response_model=ReceiptPublic, status_code=201,
             responses=refusals(*REFUND_REFUSALS))
def refund(session_id: BigId, body: SessionRefund, db: SessionDep, operator: Operator, payments: Payments,
           idempotency_key: IdempotencyKey = None) -> ReceiptPublic:
    """Refund a settled session, fully or in part, with a reason (operators): to the card, or to the wallet.

    Never more than the session cost, however many refunds arrive at once; once per Idempotency-Key."""
    session = service.visible_session(db, operator, session_id)

    def act() -> ReceiptPublic:
        refund_session(db, session, body.amount, body.reason, payments, operator)
        return receipt(db, session)
    return once(db, operator.id, idempotency_key, f"session_refund:{session_id}", body, ReceiptPublic, act)
