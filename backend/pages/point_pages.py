"""One metering point for its applicant and for operators: next step, live outlets, daily energy and money,
sessions, unattributed energy, and the way to its statements and labels."""
from dataclasses import dataclass
from datetime import timedelta

from fastapi import Request
from sqlmodel import Session

from backend.core.clock import local_today
from backend.core.errors import ScanPowerError
from backend.deps import CurrentUser, Id
from backend.meters.inspection import Sample, latest_by_channel
from backend.pages.charts import daily_bars
from backend.pages.display import kwh, yuan
from backend.pages.errors import PageDb, page_router
from backend.pages.point_words import next_step
from backend.pages.rendering import render
from backend.points import service as points
from backend.points.models import MeteringPoint, Outlet
from backend.reconciliation import service as reconciliation
from backend.sessions import service as sessions
from backend.sessions.models import UsageSession
from backend.sessions.usage import daily_usage
from backend.sessions.views import session_public
from backend.users.models import Role

router = page_router()
CHART_DAYS = 14
SHOWN_SESSIONS = 20


@dataclass(frozen=True)
class OutletNow:
    outlet: Outlet
    running: UsageSession | None
    latest: Sample | None


@router.get("/points/{point_id}")
def point_page(point_id: Id, request: Request, db: PageDb, user: CurrentUser):
    """The point at a glance, for its applicant or an operator."""
    point = points.visible_point(db, user, point_id)
    meter = points.meter_of_point(db, point.id)
    latest = latest_by_channel(db, meter.id) if meter else {}
    outlets = [OutletNow(o, sessions.open_session_on_outlet(db, o.id), latest.get(o.channel))
               for o in points.outlets_of_point(db, point.id)]
    today = local_today()
    days = daily_usage(db, point.id, today - timedelta(days=CHART_DAYS - 1), today)
    recent = [session_public(s) for s in sessions.list_sessions(db, user, limit=500) if s.point_id == point.id]
    return render(request, "point.html", user=user, point=point, meter=meter, step=next_step(point, meter),
                  outlets=outlets, month=today.strftime("%Y-%m"), this_month=_this_month(db, point),
                  energy_chart=daily_bars([(d.day, d.energy_wh) for d in days], kwh),
                  money_chart=daily_bars([(d.day, d.collected) for d in days], yuan),
                  sessions=recent[:SHOWN_SESSIONS], operator=user.role == Role.operator)


def _this_month(db: Session, point: MeteringPoint):
    """This month's reconciliation, when the point has a tariff in effect."""
    try:
        return reconciliation.statement(db, point, local_today().strftime("%Y-%m")).reconciliation
    except ScanPowerError:
        return None
