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
from backend.pages.payment_choices import WALLET, payment_choices
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
from billing.payments.providers import PayWith

router = page_router()
DEFAULT_HOLD = Decimal("50")


@router.get("/s/{token}")
def scan(token: str, request: Request, db: PageDb, user: MaybeUser, settings: SettingsDep):
    """The scanned outlet: point, price, availability, the ways to pay and the Start button for vendors."""
    return _scan_page(request, db, user, settings, token)


@router.post("/s/{token}/start")
def start(token: str, request: Request, form: FormData, db: PageDb, user: MaybeUser, settings: SettingsDep):
    """Start a session on this outlet (from the balance, or with a card hold), then watch it live."""
    if user is None:
        return RedirectResponse(login_url(f"/s/{token}"), status_code=303)
    if user.role != Role.vendor:
        return _scan_page(request, db, user, settings, token, gettext("Only vendor accounts can switch power on."),
                          403)
    hold, provider = None, request.app.state.payment_provider
    pay_with = form.get("pay_with", WALLET)
    if pay_with != WALLET:
        body, errors = parse(SessionStart, {"outlet_token": token, "hold_amount": form.get("hold_amount", "")},
                             ("outlet_token", "hold_amount"))
        if body is None or body.hold_amount is None:
            why = errors.get("hold_amount") or gettext("Required")
            return _scan_page(request, db, user, settings, token, gettext("Card hold: %(why)s.", why=why), 422)
        hold = body.hold_amount
    try:
        if hold is not None:
            provider = request.app.state.payments.chosen(_pay_with(pay_with))
        session = sessions.start_session(db, user, token, settings.min_start_balance, settings.command_timeout_seconds,
                                         hold, provider)
    except ScanPowerError as exc:
        discard_work(db)
        return _scan_page(request, db, user, settings, token, refusal_text(exc), exc.status_code)
    return RedirectResponse(f"/sessions/{session.id}", status_code=303)


def _pay_with(value: str) -> PayWith:
    try:
        return PayWith(value)
    except ValueError:
        return PayWith.card  # an unknown choice is refused like an unconfigured one


def _scan_page(request: Request, db: Session, user: User | None, settings: Settings, token: str,
               error: str | None = None, status_code: int = 200) -> Response:
    try:
        outlet = outlet_view(db, token)
    except OutletNotFound as exc:
        return error_page(request, 404, refusal_text(exc), title=gettext("Unknown QR code"))
    vendor = user if user is not None and user.role == Role.vendor else None
    running = sessions.open_session_on_outlet(db, points.outlet_by_token(db, token).id)
    refusal = sessions.outlet_refusal(db, points.outlet_by_token(db, token))
    return render(request, "scan.html", status_code=status_code, user=user, outlet=outlet, error=error,
                  wallet=wallet_summary(db, vendor, settings) if vendor else None,
                  mine=running if running and vendor and running.vendor_id == vendor.id else None,
                  unavailable=refusal_text(refusal) if refusal else None, max_top_up=MAX_TOP_UP,
                  choices=payment_choices(request.app.state.payments), default_hold=DEFAULT_HOLD,
                  service_phone=settings.service_phone, next=f"/s/{token}")
