"""The operator's dashboard: applications to decide, points, meters, live sessions, rejected messages."""
from collections.abc import Callable

from fastapi import Request
from sqlmodel import Session
from starlette.responses import RedirectResponse, Response

from backend.core.errors import ScanPowerError
from backend.alarms import service as alarms
from backend.alarms.flooding import flooding_meter_ids
from backend.deps import Id, Operator
from backend.meters.quarantine import latest_rejections
from backend.pages.errors import PageDb, discard_work, page_router
from backend.pages.flash import flash
from backend.pages.forms import FormData, parse
from backend.pages.rendering import render, templates
from backend.points import service as points
from backend.points.models import MeteringPoint, PointApprove, PointReject, PointStatus
from backend.sessions import service as sessions
from backend.sessions.views import session_public
from backend.tariffs.service import list_tariffs, suggested_category, tariff_public
from backend.users.models import User

router = page_router()
SHOWN_REJECTIONS = 20


@router.get("/operator")
def dashboard(request: Request, db: PageDb, operator: Operator):
    """Everything an operator watches, on one page; operator.js refreshes the live part every 2 s."""
    every_point = points.list_points(db, operator)
    return render(request, "operator.html", user=operator, points=every_point,
                  tariffs=[tariff_public(t) for t in list_tariffs(db)],
                  suggested=suggested_category,
                  pending=[p for p in every_point if p.status == PointStatus.submitted],
                  rejections=latest_rejections(db, SHOWN_REJECTIONS),
                  doubtful=sessions.list_sessions(db, operator, needs_review=True, limit=SHOWN_REJECTIONS),
                  **_live(db, operator, every_point))


@router.get("/operator/live")
def live_fragment(request: Request, db: PageDb, operator: Operator):
    """The meters and open sessions tables alone, as HTML for operator.js to swap in."""
    # Not `render`: a fragment must leave any pending notice for the next full page.
    return templates.TemplateResponse(request, "_operator_live.html",
                                      _live(db, operator, points.list_points(db, operator)))


@router.post("/operator/points/{point_id}/approve")
def approve(point_id: Id, form: FormData, db: PageDb, _: Operator):
    """Approve an application with a tariff: the meter and its outlets are provisioned."""
    body, _errors = parse(PointApprove, form, ("tariff_id",))
    if body is None:
        return _back("Choose a tariff to approve with.", "error")
    return _decide(db, lambda: points.approve_point(db, point_id, body.tariff_id), "approved")


@router.post("/operator/points/{point_id}/reject")
def reject(point_id: Id, form: FormData, db: PageDb, _: Operator):
    """Reject an application; the reason is shown to the applicant."""
    body, errors = parse(PointReject, form, ("reason",))
    if body is None:
        return _back(f"Reason for rejecting: {errors['reason'].lower()}", "error")
    return _decide(db, lambda: points.reject_point(db, point_id, body.reason), "rejected")


def _decide(db: Session, decision: Callable[[], MeteringPoint], verb: str) -> Response:
    try:
        point = decision()
    except ScanPowerError as exc:
        discard_work(db)
        return _back(exc.detail, "error")
    return _back(f"“{point.name}” {verb}.")


def _back(text: str, kind: str = "ok") -> Response:
    return flash(RedirectResponse("/operator", status_code=303), text, kind)


def _live(db: Session, operator: User, every_point: list[MeteringPoint]) -> dict:
    """What operator.js refreshes: meters (flooding ones marked), open sessions and alarms, with point names."""
    running = sessions.list_sessions(db, operator, open_only=True)
    open_alarms = alarms.open_alarms(db)
    return {"meters": points.list_meters(db), "running": [session_public(s) for s in running],
            "alarms": open_alarms, "flooding": flooding_meter_ids(open_alarms),
            "point_names": {p.id: p.name for p in every_point}}
