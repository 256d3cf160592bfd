"""A running session's figures as the live page shows them, already worded: one payload for events and polling."""
from backend.pages import display
from backend.pages.i18n import gettext
from backend.pages.session_words import notices
from backend.sessions.models import SessionStatus, UsageSession
from backend.sessions.views import session_public


def live_figures(session: UsageSession) -> dict:
    """Everything session.js writes into the page, formatted and in the request's language."""
    public = session_public(session)
    final = not public.status.is_open
    return {
        "status": public.status.value,
        "final": final,
        "status_text": display.session_status(public.status),
        "badge": display.badge(public.status),
        "energy": display.kwh(public.energy_wh),
        "amount": display.yuan(public.amount),
        "amount_label": gettext("Cost so far") if not final else gettext("Cost"),
        "power": display.power(public.power_w),
        "started": display.when(public.started_at),
        "updated": display.clock_seconds(session.latest_reading_at or public.started_at or public.requested_at),
        "notices": [{"kind": n.kind, "text": n.text} for n in notices(public)],
        "receipt": f"/sessions/{session.id}/receipt" if public.status == SessionStatus.completed else None,
    }
