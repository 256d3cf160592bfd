from fastapi import APIRouter, Request

from backend.core.api_errors import SIGNED_IN, WITH_ROLE, ApiRoute, refusals
from backend.deps import BigId, CurrentUser, Operator, SessionDep, SettingsDep, Vendor
from backend.idempotency import IdempotencyKey, once
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
from billing.payments.service import PaymentDeclined
from billing.payments.stripe_provider import PaymentServiceUnavailable

router = APIRouter(tags=["sessions"], route_class=ApiRoute)
START_REFUSALS = (*WITH_ROLE, service.NotAVendor, OutletNotFound, service.PointNotServing, service.OutletBusy,
                  service.MeterOffline, service.InsufficientBalance, service.CardPaymentsUnavailable, HoldTooSmall,
                  PaymentDeclined, PaymentServiceUnavailable)
REFUND_REFUSALS = (*WITH_ROLE, SessionNotFound, RefundNotPossible, card_refunds.NothingToRefund,
                   card_refunds.RefundTooLarge, card_refunds.RefundExceedsBalance, PaymentDeclined,
                   PaymentServiceUnavailable, IdempotencyKeyReused)


@router.post("/sessions", response_model=SessionPublic, status_code=201, responses=refusals(*START_REFUSALS))
def start_session(body: SessionStart, request: Request, db: SessionDep, vendor: Vendor,
                  settings: SettingsDep) -> SessionPublic:
    """Start a session on the scanned outlet (wallet, or a card hold); the relay closes when the meter acknowledges."""
    session = service.start_session(db, vendor, body.outlet_token, settings.min_start_balance,
                                    settings.command_timeout_seconds, body.hold_amount,
                                    request.app.state.payment_provider)
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
def refund(session_id: BigId, body: SessionRefund, request: Request, db: SessionDep, operator: Operator,
           idempotency_key: IdempotencyKey = None) -> ReceiptPublic:
    """Refund a settled session, fully or in part, with a reason (operators): to the card, or to the wallet.

    Never more than the session cost, however many refunds arrive at once; once per Idempotency-Key."""
    session = service.visible_session(db, operator, session_id)

    def act() -> ReceiptPublic:
        refund_session(db, session, body.amount, body.reason, request.app.state.payment_provider, operator)
        return receipt(db, session)
    return once(db, operator.id, idempotency_key, f"session_refund:{session_id}", body, ReceiptPublic, act)
