"""Paying in WeChat Pay or Alipay from the pages: hand the payment over to the provider (its cashier page, or its
app's JS bridge), then wait on our page until the provider's notification — or our own query — confirms it."""
import logging
import re
from decimal import Decimal

from fastapi import Request
from sqlmodel import Session
from starlette.responses import JSONResponse, RedirectResponse, Response

from backend.core.clock import utcnow
from backend.core.config import Settings
from backend.deps import SettingsDep, Vendor
from backend.idempotency import once
from backend.pages.cookies import set_cookie
from backend.pages.errors import PageDb, page_router
from backend.pages.flash import flash
from backend.pages.form_keys import page_key
from backend.pages.navigation import safe_next
from backend.pages.pay_handover import Handover, handover
from backend.pages.pay_waiting import WaitState, wait_state
from backend.pages.rendering import render
from backend.payments import views
from backend.payments.endpoints import PaymentOrderNotFound
from backend.payments.schemas import PaymentRequestPublic, TopUpRequest
from backend.payments.service import check_now, request_session_payment, request_top_up
from backend.points.models import Outlet
from backend.sessions.models import SessionStart
from backend.users.models import User
from billing.payments.holds import hold_by_intent
from billing.payments.interface import Payer, PaymentProvider, PaymentServiceUnavailable
from billing.payments.models import Hold, Payment
from billing.payments.service import payment_by_external_id

log = logging.getLogger(__name__)
router = page_router()
NEXT_COOKIE = "sp_pay_next"  # where a top-up returns once paid; the provider's cashier sends the phone back to us
ORDER_NO = re.compile(r"[A-Za-z0-9_\-]{6,120}")


def ask_for_session(request: Request, db: Session, vendor: User, body: SessionStart, provider: PaymentProvider,
                    hold: bool, request_key: str) -> PaymentRequestPublic:
    """Ask WeChat Pay or Alipay for a session's money (a hold, or paid ahead), once per rendered form."""
    key = page_key("session", vendor, request_key)

    def ask() -> PaymentRequestPublic:
        return views.requested_public(request_session_payment(db, vendor, body.outlet_token, body.hold_amount,
                                                              provider, _payer(request), key, hold=hold))
    return once(db, vendor.id, key, "session_page", body, PaymentRequestPublic, ask)


def ask_for_top_up(request: Request, db: Session, vendor: User, body: TopUpRequest, provider: PaymentProvider,
                   request_key: str) -> PaymentRequestPublic:
    """Ask WeChat Pay or Alipay for a top-up, once per rendered form."""
    key = page_key("topup", vendor, request_key)

    def ask() -> PaymentRequestPublic:
        return views.requested_public(request_top_up(db, vendor, body.amount, provider, _payer(request), key))
    return once(db, vendor.id, key, "top_up_page", body, PaymentRequestPublic, ask)


def hand_over(request: Request, settings: Settings, asked: PaymentRequestPublic, back: str) -> Response:
    """Send the phone to the provider: to its cashier page, or to our page that calls its app's bridge."""
    waiting = f"/pay/{asked.order_no}"
    way = handover(asked.pay_params, f"{settings.public_base_url}{waiting}")
    if way.bridge is None and way.redirect is not None:
        response = RedirectResponse(way.redirect, status_code=303)
    else:
        response = _page(request, asked.provider, asked.amount, waiting, back, way,
                         WaitState(False, "wait", ""))
    set_cookie(response, request, settings.public_base_url, NEXT_COOKIE, back, 1800)
    return response


@router.get("/pay/return")
def returned(request: Request, out_trade_no: str = ""):
    """Where Alipay's cashier sends the phone back (it adds out_trade_no): the waiting page of that order."""
    if not ORDER_NO.fullmatch(out_trade_no):
        return RedirectResponse("/me", status_code=303)
    return RedirectResponse(f"/pay/{out_trade_no}", status_code=303)


@router.get("/pay/{order_no}")
def waiting(order_no: str, request: Request, db: PageDb, vendor: Vendor, settings: SettingsDep):
    """Waiting for the provider to confirm; once it has, on to the session, or back with the balance credited."""
    row = _checked(request, db, _own(db, vendor, order_no), settings)
    back = _back(request, db, row)
    state = wait_state(row, back)
    if state.final and state.go is not None:
        response = RedirectResponse(state.go, status_code=303)
        return flash(response, state.text) if state.go == back else response
    return _page(request, row.provider, row.amount, f"/pay/{order_no}", back, Handover(), state)


@router.get("/pay/{order_no}/status")
def status(order_no: str, request: Request, db: PageDb, vendor: Vendor, settings: SettingsDep):
    """The order's state for pay.js: asks the provider itself when the notification is late."""
    row = _checked(request, db, _own(db, vendor, order_no), settings)
    state = wait_state(row, _back(request, db, row))
    return JSONResponse({"final": state.final, "kind": state.kind, "text": state.text,
                         "go": f"/pay/{order_no}" if state.final else None}, headers={"Cache-Control": "no-store"})


def _page(request: Request, provider: str, amount: Decimal, waiting: str, back: str, way: Handover,
          state: WaitState) -> Response:
    return render(request, "pay.html", user=getattr(request.state, "page_user", None), provider=provider,
                  amount=amount, waiting=waiting, back=back, handover=way, state=state,
                  status_code=200)


def _own(db: Session, vendor: User, order_no: str) -> Payment | Hold:
    found = None
    if ORDER_NO.fullmatch(order_no):
        found = payment_by_external_id(db, order_no) or hold_by_intent(db, order_no)
    if found is None or found.user_id != vendor.id:
        raise PaymentOrderNotFound(f"payment order {order_no} does not exist")
    return found


def _checked(request: Request, db: Session, row: Payment | Hold, settings: Settings) -> Payment | Hold:
    """The row after asking its provider, if its notification is late; as it was if the provider is away."""
    try:
        return check_now(db, request.app.state.payments, row, settings, utcnow())
    except PaymentServiceUnavailable as away:
        log.info("could not ask %s about %s now: %s", row.provider, row.external_id, away.detail)
        return row


def _back(request: Request, db: Session, row: Payment | Hold) -> str:
    """Where the vendor goes back to: the outlet a session was for, else the page a top-up started from."""
    outlet = db.get(Outlet, row.outlet_id) if row.outlet_id is not None else None
    if outlet is not None:
        return f"/s/{outlet.qr_token}"
    return safe_next(request.cookies.get(NEXT_COOKIE)) or "/me"


def _payer(request: Request) -> Payer:
    base = request.app.state.settings.public_base_url
    return Payer(client_ip=request.client.host if request.client else None, return_url=f"{base}/pay/return")
