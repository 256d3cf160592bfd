"""The page a QR code on an outlet opens: what it is, what it costs, how to pay, and Start."""
from decimal import Decimal

from fastapi import Request
from sqlmodel import Session
from starlette.responses import RedirectResponse, Response

from backend.core.config import Settings
from backend.core.errors import ScanPowerError
from backend.deps import MaybeUser, SettingsDep
from backend.pages.errors import PageDb, discard_work, error_page, page_router
from backend.pages.forms import FormData, parse
from backend.pages.i18n import gettext
from backend.pages.navigation import login_url
from backend.pages.client_app import app_of
from backend.pages.payment_choices import HOLD, WALLET, chosen, session_choices, top_up_offer
from backend.pages.paying import ask_for_session, hand_over
from backend.pages.refusals import refusal_text
from backend.pages.rendering import render
from backend.pages.wallet import wallet_summary
from backend.points import service as points
from backend.points.service import OutletNotFound
from backend.points.views import outlet_view
from backend.sessions import service as sessions
from backend.sessions.models import SessionStart
from backend.users.models import Role, User
from billing.payments.models import MAX_TOP_UP
from billing.payments.providers import PaymentMethodUnavailable

router = page_router()
DEFAULT_HOLD = Decimal("20")


@router.get("/s/{token}")
def scan(token: str, request: Request, db: PageDb, user: MaybeUser, settings: SettingsDep):
    """The scanned outlet: point, price, availability, the ways to pay and the Start button for vendors."""
    return _scan_page(request, db, user, settings, token)


@router.post("/s/{token}/start")
def start(token: str, request: Request, form: FormData, db: PageDb, user: MaybeUser, settings: SettingsDep):
    """Start a session on this outlet: from the balance, with a card hold, or paid in WeChat Pay / Alipay."""
    if user is None:
        return RedirectResponse(login_url(f"/s/{token}"), status_code=303)
    if user.role != Role.vendor:
        return _scan_page(request, db, user, settings, token, gettext("Only vendor accounts can switch power on."),
                          403)
    choice = chosen(session_choices(request.app.state.payments, app_of(request.headers.get("user-agent"))),
                    form.get("pay_with", WALLET))
    try:
        if choice is None:
            raise PaymentMethodUnavailable("the form chose a way of paying this page does not offer")
        if choice.way == WALLET:
            session = sessions.start_session(db, user, token, settings.min_start_balance,
                                             settings.command_timeout_seconds)
            return RedirectResponse(f"/sessions/{session.id}", status_code=303)
        body, errors = parse(SessionStart, {"outlet_token": token, "provider": choice.code,
                                            "hold_amount": form.get(f"amount_{choice.code}", "")},
                             ("outlet_token", "provider", "hold_amount"))
        if body is None:
            why = errors.get("hold_amount") or errors.get("outlet_token") or gettext("Required")
            return _scan_page(request, db, user, settings, token, f"{gettext(choice.label)}: {why}", 422)
        provider = request.app.state.payments.chosen(body.provider)
        if not provider.capabilities.instant:
            asked = ask_for_session(request, db, user, body, provider, choice.way == HOLD, form.get("request_key", ""))
            return hand_over(request, settings, asked, f"/s/{token}")
        session = sessions.start_session(db, user, token, settings.min_start_balance, settings.command_timeout_seconds,
                                         body.hold_amount, provider)
    except ScanPowerError as exc:
        discard_work(db)
        return _scan_page(request, db, user, settings, token, refusal_text(exc), exc.status_code)
    return RedirectResponse(f"/sessions/{session.id}", status_code=303)


def _scan_page(request: Request, db: Session, user: User | None, settings: Settings, token: str,
               error: str | None = None, status_code: int = 200) -> Response:
    try:
        outlet = outlet_view(db, token)
    except OutletNotFound as exc:
        return error_page(request, 404, refusal_text(exc), title=gettext("Unknown QR code"))
    vendor = user if user is not None and user.role == Role.vendor else None
    app = app_of(request.headers.get("user-agent"))
    running = sessions.open_session_on_outlet(db, points.outlet_by_token(db, token).id)
    refusal = sessions.outlet_refusal(db, points.outlet_by_token(db, token))
    return render(request, "scan.html", status_code=status_code, user=user, outlet=outlet, error=error,
                  wallet=wallet_summary(db, vendor, settings) if vendor else None,
                  mine=running if running and vendor and running.vendor_id == vendor.id else None,
                  unavailable=refusal_text(refusal) if refusal else None, max_top_up=MAX_TOP_UP,
                  choices=session_choices(request.app.state.payments, app), default_hold=DEFAULT_HOLD,
                  pay_choices=top_up_offer(request.app.state.payments, app),
                  service_phone=settings.service_phone, next=f"/s/{token}")
