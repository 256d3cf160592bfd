"""The page a QR code on an outlet opens: what it is, what it costs, and Start."""
from fastapi import Request
from sqlmodel import Session
from starlette.responses import RedirectResponse, Response

from backend.core.config import Settings
from backend.core.errors import ScanPowerError
from backend.deps import MaybeUser, SettingsDep
from backend.pages.errors import PageDb, discard_work, error_page, page_router
from backend.pages.navigation import login_url
from backend.pages.rendering import render
from backend.pages.wallet import wallet_summary
from backend.points import service as points
from backend.points.service import OutletNotFound
from backend.points.views import outlet_view
from backend.sessions import service as sessions
from backend.users.models import Role, User
from billing.payments.models import MAX_TOP_UP

router = page_router()
UNKNOWN_CODE = ("This QR code does not belong to any outlet. Check that you scanned the label on the outlet, "
                "or ask the site manager.")


@router.get("/s/{token}")
def scan(token: str, request: Request, db: PageDb, user: MaybeUser, settings: SettingsDep):
    """The scanned outlet: point, price, availability, and the Start button for vendors."""
    return _scan_page(request, db, user, settings, token)


@router.post("/s/{token}/start")
def start(token: str, request: Request, db: PageDb, user: MaybeUser, settings: SettingsDep):
    """Start a session on this outlet, then watch it live; a refusal is explained on the scan page."""
    if user is None:
        return RedirectResponse(login_url(f"/s/{token}"), status_code=303)
    if user.role != Role.vendor:
        return _scan_page(request, db, user, settings, token, "Only vendor accounts can switch power on.", 403)
    try:
        session = sessions.start_session(db, user, token, settings.min_start_balance,
                                         settings.command_timeout_seconds)
    except ScanPowerError as exc:
        discard_work(db)
        return _scan_page(request, db, user, settings, token, exc.detail, exc.status_code)
    return RedirectResponse(f"/sessions/{session.id}", status_code=303)


def _scan_page(request: Request, db: Session, user: User | None, settings: Settings, token: str,
               error: str | None = None, status_code: int = 200) -> Response:
    try:
        outlet = outlet_view(db, token)
    except OutletNotFound:
        return error_page(request, 404, UNKNOWN_CODE, title="Unknown QR code")
    vendor = user if user is not None and user.role == Role.vendor else None
    running = sessions.open_session_on_outlet(db, points.outlet_by_token(db, token).id)
    return render(request, "scan.html", status_code=status_code, user=user, outlet=outlet, error=error,
                  wallet=wallet_summary(db, vendor, settings) if vendor else None,
                  mine=running if running and vendor and running.vendor_id == vendor.id else None,
                  unavailable=_why_unavailable(db, token), max_top_up=MAX_TOP_UP,
                  next=f"/s/{token}")


def _why_unavailable(db: Session, token: str) -> str | None:
    """Why Start would be refused before the vendor taps it, or None when the outlet looks free."""
    refusal = sessions.outlet_refusal(db, points.outlet_by_token(db, token))
    if isinstance(refusal, sessions.OutletBusy):
        return "This outlet is in use right now. Try another outlet on this point."
    if isinstance(refusal, sessions.MeterOffline):
        return "The meter is offline at the moment; try again in a minute."
    return refusal.detail if refusal else None
