"""A session seen live (numbers refresh from the API), stopped, and its printable receipt."""
import json

from fastapi import Request
from starlette.responses import RedirectResponse

from backend.core.errors import ScanPowerError
from backend.deps import BigId, CurrentUser, MaybeUser, SettingsDep
from backend.pages.display import SESSION_STATUS_TEXT, badge
from backend.pages.errors import PageDb, discard_work, page_router
from backend.pages.flash import flash
from backend.pages.forms import FormData
from backend.pages.navigation import login_url, safe_next
from backend.pages.rendering import render
from backend.points import service as points
from backend.sessions import service as sessions
from backend.sessions.receipts import receipt as explain
from backend.sessions.models import SessionStatus, UsageSession
from backend.sessions.views import session_public
from backend.users.models import Role, User

router = page_router()
# Handed to session.js so the live page words and colours states exactly as the server does.
STATUS_LOOK = json.dumps({s.value: {"text": text, "badge": badge(s)} for s, text in SESSION_STATUS_TEXT.items()})


@router.get("/sessions/{session_id}")
def live(session_id: BigId, request: Request, db: PageDb, user: CurrentUser):
    """Status, energy, cost, power and price of one session; session.js refreshes them every second."""
    session = sessions.visible_session(db, user, session_id)
    return render(request, "session.html", user=user, session=session_public(session),
                  point=points.get_point(db, session.point_id), can_stop=_may_stop(user, session),
                  status_look=STATUS_LOOK)


@router.post("/sessions/{session_id}/stop")
def stop(session_id: BigId, form: FormData, db: PageDb, user: MaybeUser, settings: SettingsDep):
    """Ask the meter to switch the outlet off (the vendor, or an operator remotely)."""
    back = safe_next(form.get("next")) or f"/sessions/{session_id}"
    if user is None:
        return RedirectResponse(login_url(f"/sessions/{session_id}"), status_code=303)
    try:
        sessions.request_stop(db, user, session_id, settings.command_timeout_seconds)
    except ScanPowerError as exc:
        discard_work(db)
        return flash(RedirectResponse(back, status_code=303), exc.detail, "error")
    return flash(RedirectResponse(back, status_code=303), f"Stop sent: session {session_id} switches off shortly.")


@router.get("/sessions/{session_id}/receipt")
def receipt(session_id: BigId, request: Request, db: PageDb, user: CurrentUser):
    """The printable receipt of a completed session; an unfinished one shows its live page instead."""
    session = sessions.visible_session(db, user, session_id)
    if session.status != SessionStatus.completed:
        return RedirectResponse(f"/sessions/{session_id}", status_code=303)
    return render(request, "receipt.html", user=user, session=session,
                  point=points.get_point(db, session.point_id), bill=explain(db, session))


def _may_stop(user: User, session: UsageSession) -> bool:
    return session.status.is_open and (user.id == session.vendor_id or user.role == Role.operator)
