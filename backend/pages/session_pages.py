"""A session seen live (events, or polling where events fail), stopped, and its receipt."""
from fastapi import Request
from sqlmodel import Session
from starlette.responses import JSONResponse, RedirectResponse

from backend.core.errors import ScanPowerError
from backend.deps import BigId, CurrentUser, MaybeUser, SettingsDep
from backend.pages.errors import PageDb, discard_work, page_router
from backend.pages.flash import flash
from backend.pages.forms import FormData
from backend.pages.i18n import gettext
from backend.pages.live_events import event_stream
from backend.pages.live_figures import live_figures
from backend.pages.navigation import login_url, safe_next
from backend.pages.receipt_view import receipt_view
from backend.pages.refusals import refusal_text
from backend.pages.rendering import render
from backend.pages.money_words import money_back, payment_words
from backend.pages.session_words import limit_words, notices
from backend.payments.trail import session_money
from backend.points import service as points
from backend.sessions import service as sessions
from backend.sessions.models import SessionStatus, UsageSession
from backend.sessions.views import session_public
from backend.users.models import Role, User

router = page_router()


@router.get("/sessions/{session_id}")
def live(session_id: BigId, request: Request, db: PageDb, user: CurrentUser):
    """Status, energy, cost, power and price of one session, kept current by session.js."""
    session = sessions.visible_session(db, user, session_id)
    public = session_public(session)
    return render(request, "session.html", user=user, session=public, figures=live_figures(session),
                  point=points.get_point(db, session.point_id), can_stop=_may_stop(user, session),
                  limit=limit_words(public), paid=payment_words(session_money(db, session)),
                  confirm_stop=user.id != session.vendor_id)


@router.get("/sessions/{session_id}/figures")
def figures(session_id: BigId, db: PageDb, user: CurrentUser):
    """The live figures once, for browsers without server-sent events."""
    return JSONResponse(live_figures(sessions.visible_session(db, user, session_id)),
                        headers={"Cache-Control": "no-store"})


@router.get("/sessions/{session_id}/events")
def events(session_id: BigId, request: Request, db: PageDb, user: CurrentUser):
    """The live figures as server-sent events, pushed when they change."""
    sessions.visible_session(db, user, session_id)
    engine = request.app.state.engine

    def produce() -> dict:
        with Session(engine) as fresh:
            return live_figures(fresh.get(UsageSession, session_id))
    return event_stream(request, produce, lambda figures: figures["final"])


@router.get("/sessions/{session_id}/stop")
def confirm_stop(session_id: BigId, request: Request, db: PageDb, user: CurrentUser, next: str = ""):
    """Ask before switching off someone else's power (operators, the point's applicant)."""
    session = sessions.visible_session(db, user, session_id)
    return render(request, "confirm_stop.html", user=user, session=session_public(session),
                  point=points.get_point(db, session.point_id), next=safe_next(next) or f"/sessions/{session_id}")


@router.post("/sessions/{session_id}/stop")
def stop(session_id: BigId, form: FormData, db: PageDb, user: MaybeUser, settings: SettingsDep):
    """Ask the meter to switch the outlet off (the vendor, the point's applicant, or an operator remotely)."""
    back = safe_next(form.get("next")) or f"/sessions/{session_id}"
    if user is None:
        return RedirectResponse(login_url(f"/sessions/{session_id}"), status_code=303)
    try:
        sessions.request_stop(db, user, session_id, settings.command_timeout_seconds)
    except ScanPowerError as exc:
        discard_work(db)
        return flash(RedirectResponse(back, status_code=303), refusal_text(exc), "error")
    return flash(RedirectResponse(back, status_code=303),
                 gettext("Stop sent: session %(id)s switches off in a moment.", id=session_id))


@router.get("/sessions/{session_id}/receipt")
def receipt(session_id: BigId, request: Request, db: PageDb, user: CurrentUser, settings: SettingsDep):
    """The receipt of a completed session: the plain bill first, the meter's registers folded away."""
    session = sessions.visible_session(db, user, session_id)
    if session.status != SessionStatus.completed:
        return RedirectResponse(f"/sessions/{session_id}", status_code=303)
    public, money = session_public(session), session_money(db, session)
    return render(request, "receipt.html", user=user, session=public, point=points.get_point(db, session.point_id),
                  bill=receipt_view(db, session), notices=notices(public), paid=payment_words(money),
                  money_back=money_back(money), service_phone=settings.service_phone,
                  operator=user.role == Role.operator)


def _may_stop(user: User, session: UsageSession) -> bool:
    if not session.status.is_open:
        return False
    if user.id == session.vendor_id or user.role == Role.operator:
        return True
    return user.role == Role.applicant
