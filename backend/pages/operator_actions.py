"""Operator actions that cannot be undone, each asked for once more before it is done: close a point, refund."""
from decimal import Decimal

from fastapi import Request
from starlette.responses import RedirectResponse

from backend.core.errors import ScanPowerError
from backend.deps import BigId, Id, Operator, SettingsDep
from backend.idempotency import once
from backend.pages.display import yuan
from backend.pages.errors import PageDb, discard_work, page_router
from backend.pages.flash import flash
from backend.pages.forms import FormData, parse
from backend.pages.i18n import gettext
from backend.pages.refusals import refusal_text
from backend.pages.rendering import render
from backend.pages.form_keys import REQUEST_KEY
from backend.points import closing
from backend.points import service as points
from backend.sessions import service as sessions
from backend.sessions.models import OPEN_STATUSES, ReceiptPublic
from backend.sessions.receipts import receipt
from backend.sessions.refunds import SessionRefund, refund_session
from backend.sessions.settlement import billed_so_far
from backend.sessions.refunds import refunded
from backend.sessions.views import session_public

router = page_router()


@router.get("/operator/points/{point_id}/close")
def confirm_close(point_id: Id, request: Request, db: PageDb, operator: Operator):
    """What closing the point does, before it is done."""
    point = points.get_point(db, point_id)
    running = [s for s in sessions.list_sessions(db, operator, open_only=True) if s.point_id == point_id]
    return render(request, "confirm_close.html", user=operator, point=point, running=running)


@router.post("/operator/points/{point_id}/close")
def close(point_id: Id, db: PageDb, operator: Operator, settings: SettingsDep):
    """Close the point: no new sessions; the running ones are stopped and settled."""
    point = closing.close_point(db, point_id, settings.command_timeout_seconds, operator)
    return flash(RedirectResponse(f"/points/{point_id}", status_code=303),
                 gettext("“%(name)s” is closed; its running sessions are being stopped.", name=point.name))


@router.get("/operator/sessions/{session_id}/refund")
def refund_form(session_id: BigId, request: Request, db: PageDb, operator: Operator):
    """How much of a settled session can still be refunded, and the form to do it."""
    return _refund_page(request, db, operator, session_id, {}, {})


@router.post("/operator/sessions/{session_id}/refund")
def refund(session_id: BigId, request: Request, form: FormData, db: PageDb, operator: Operator):
    """First a confirmation of amount and reason; then, confirmed, the refund (once per confirmation form)."""
    values = {"amount": form.get("amount", ""), "reason": form.get("reason", "")}
    body, errors = parse(SessionRefund, values, ("amount", "reason"))
    if body is None:
        return _refund_page(request, db, operator, session_id, values, errors, 422)
    if form.get("confirmed") != "yes":
        return _refund_page(request, db, operator, session_id, values, {}, confirm=body)
    session = sessions.visible_session(db, operator, session_id)
    key = form.get("request_key", "")
    try:
        once(db, operator.id, f"refund-page:{key}" if REQUEST_KEY.fullmatch(key) else None,
             f"session_refund:{session_id}", body, ReceiptPublic,
             lambda: (refund_session(db, session, body.amount, body.reason, request.app.state.payments, operator),
                      receipt(db, session))[1])
    except ScanPowerError as exc:
        discard_work(db)
        return _refund_page(request, db, operator, session_id, values, {"": refusal_text(exc)}, exc.status_code)
    return flash(RedirectResponse(f"/sessions/{session_id}/receipt", status_code=303),
                 gettext("Refunded %(amount)s for session %(id)s.", amount=yuan(body.amount or Decimal(0)),
                         id=session_id) if body.amount else gettext("Refunded what was left of session %(id)s.",
                                                                    id=session_id))


def _refund_page(request, db, operator, session_id, values, errors, status_code=200, confirm=None):
    session = sessions.visible_session(db, operator, session_id)
    left = billed_so_far(db, session) - refunded(db, session) if session.status not in OPEN_STATUSES else None
    return render(request, "refund.html", status_code=status_code, user=operator, session=session_public(session),
                  point=points.get_point(db, session.point_id), left=left, values=values, errors=errors,
                  confirm=confirm)
