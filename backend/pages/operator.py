"""The operator's overview: counts, a map of points by state, applications to decide, live sessions and meters."""
from collections import Counter
from collections.abc import Callable

from fastapi import Request
from sqlmodel import Session
from starlette.responses import RedirectResponse, Response

from backend.alarms import service as alarms
from backend.alarms.flooding import flooding_meter_ids
from backend.core.errors import ScanPowerError
from backend.deps import Id, Operator
from backend.meters.quarantine import latest_rejections
from backend.pages.errors import PageDb, discard_work, page_router
from backend.pages.flash import flash
from backend.pages.forms import FormData, parse
from backend.pages.i18n import gettext
from backend.pages.live_events import event_stream
from backend.pages.point_map import point_map
from backend.pages.refusals import refusal_text
from backend.pages.rendering import render, templates
from backend.points import service as points
from backend.points.models import MeteringPoint, PointApprove, PointReject, PointStatus
from backend.sessions import service as sessions
from backend.sessions.views import session_public
from backend.tariffs.models import Tariff
from backend.tariffs.service import in_effect, list_tariffs, starts_at, suggested_category, tariff_public
from backend.users.models import User

router = page_router()
SHOWN_REJECTIONS = 20


@router.get("/operator")
def dashboard(request: Request, db: PageDb, operator: Operator):
    """Everything an operator watches, on one page; operator.js keeps the live part current."""
    every_point = points.list_points(db, operator)
    tariffs = list_tariffs(db)
    live = _live(db, operator, every_point)
    return render(request, "operator.html", user=operator, points=every_point, map=point_map(every_point),
                  point_counts=Counter(p.status.value for p in every_point),
                  tariffs=[(tariff_public(t), in_effect(t), starts_at(t)) for t in tariffs],
                  default_tariff=lambda point: default_tariff_id(tariffs, point.purpose),
                  pending=[p for p in every_point if p.status == PointStatus.submitted],
                  rejections=latest_rejections(db, SHOWN_REJECTIONS),
                  doubtful=sessions.list_sessions(db, operator, needs_review=True, limit=SHOWN_REJECTIONS),
                  **live)


def default_tariff_id(tariffs: list[Tariff], purpose: str) -> int | None:
    """The tariff an approval offers first: one in effect today, of the purpose's category if there is one."""
    current = [t for t in tariffs if in_effect(t)]
    fitting = [t for t in current if t.category == suggested_category(purpose)]
    offered = fitting or current
    return offered[0].id if offered else None


@router.get("/operator/live")
def live_fragment(request: Request, db: PageDb, operator: Operator):
    """The meters, open sessions and alarms alone, as HTML for operator.js to swap in."""
    # Not `render`: a fragment must leave any pending notice for the next full page.
    return templates.TemplateResponse(request, "_operator_live.html",
                                      _live(db, operator, points.list_points(db, operator)))


@router.get("/operator/live/events")
def live_events(request: Request, operator: Operator):
    """The same fragment as server-sent events, pushed when it changes."""
    engine = request.app.state.engine
    template = templates.get_template("_operator_live.html")

    def produce() -> dict:
        with Session(engine) as db:
            context = _live(db, operator, points.list_points(db, operator))
            return {"html": template.render(request=request, **context)}
    return event_stream(request, produce, lambda _: False)


@router.post("/operator/points/{point_id}/approve")
def approve(point_id: Id, form: FormData, db: PageDb, operator: Operator):
    """Approve an application with a tariff: the meter and its outlets are provisioned."""
    body, _errors = parse(PointApprove, form, ("tariff_id",))
    if body is None:
        return _back(gettext("Choose a tariff to approve with."), "error")
    point = points.get_point(db, point_id)
    return _decide(db, lambda: points.approve_point(db, point_id, body.tariff_id, operator),
                   gettext("“%(name)s” approved. Next: commission its meter.", name=point.name),
                   f"/points/{point_id}")


@router.post("/operator/points/{point_id}/reject")
def reject(point_id: Id, form: FormData, db: PageDb, operator: Operator):
    """Reject an application; the reason is shown to the applicant."""
    body, _errors = parse(PointReject, form, ("reason",))
    if body is None:
        return _back(gettext("Write the reason for rejecting: the applicant reads it."), "error")
    point = points.get_point(db, point_id)
    return _decide(db, lambda: points.reject_point(db, point_id, body.reason, operator),
                   gettext("“%(name)s” rejected.", name=point.name))


def _decide(db: Session, decision: Callable[[], MeteringPoint], done: str, then: str = "/operator") -> Response:
    try:
        decision()
    except ScanPowerError as exc:
        discard_work(db)
        return _back(refusal_text(exc), "error")
    return flash(RedirectResponse(then, status_code=303), done)


def _back(text: str, kind: str = "ok") -> Response:
    return flash(RedirectResponse("/operator", status_code=303), text, kind)


def _live(db: Session, operator: User, every_point: list[MeteringPoint]) -> dict:
    """What operator.js refreshes: meters (flooding ones marked), open sessions and alarms, with point names."""
    running = sessions.list_sessions(db, operator, open_only=True)
    open_alarms = alarms.open_alarms(db)
    meters = points.list_meters(db)
    return {"meters": meters, "running": [session_public(s) for s in running],
            "alarms": open_alarms, "flooding": flooding_meter_ids(open_alarms),
            "online": sum(1 for m in meters if m.online),
            "point_names": {p.id: p.name for p in every_point}}
