from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from backend.alarms import service
from backend.alarms.models import AlarmsPublic, Reliability
from backend.core.api_errors import SIGNED_IN, WITH_ROLE, ApiRoute, refusals
from backend.deps import CurrentUser, Id, Operator, SessionDep
from backend.points.service import PointNotFound, visible_point

router = APIRouter(tags=["alarms"], route_class=ApiRoute)
Limit = Annotated[int, Query(ge=1, le=1000)]


@router.get("/alarms", response_model=AlarmsPublic, responses=refusals(*WITH_ROLE))
def list_alarms(db: SessionDep, _: Operator, open_only: bool = False,
                limit: Limit = service.SHOWN_ALARMS) -> AlarmsPublic:
    """Power-quality alarms of every point, newest first (operators only)."""
    found = service.open_alarms(db) if open_only else service.recent_alarms(db, limit)
    return AlarmsPublic(data=found, count=len(found))


@router.get("/points/{point_id}/alarms", response_model=AlarmsPublic, responses=refusals(*SIGNED_IN, PointNotFound))
def list_point_alarms(point_id: Id, db: SessionDep, user: CurrentUser,
                      limit: Limit = service.SHOWN_ALARMS) -> AlarmsPublic:
    """One point's alarms, newest first (operators and the point's applicant)."""
    visible_point(db, user, point_id)
    found = service.alarms_of_point(db, point_id, limit)
    return AlarmsPublic(data=found, count=len(found))


@router.get("/reliability", response_model=Reliability, responses=refusals(*WITH_ROLE, service.InvalidPeriod))
def read_reliability(start: datetime, end: datetime, db: SessionDep, _: Operator) -> Reliability:
    """Average outage hours per point in service over [start, end) (供电可靠性); times carry an offset."""
    return service.reliability(db, start, end)
