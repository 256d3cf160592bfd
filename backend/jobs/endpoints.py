"""Operators see how the scheduled jobs ran: each job's lease and counters, and the instances running them."""
from datetime import datetime, timedelta

from fastapi import APIRouter
from sqlmodel import Field, SQLModel

from backend.core.api_errors import WITH_ROLE, ApiRoute, refusals
from backend.core.clock import utcnow
from backend.deps import Operator, SessionDep
from backend.jobs import lease

router = APIRouter(tags=["jobs"], route_class=ApiRoute)
SEEN_WITHIN_S = 60


class JobPublic(SQLModel):
    name: str
    schedule: str = Field(description='How often it runs, in Asia/Shanghai: "every 5 s", "daily at 08:00", '
                                      '"monthly on day 2 at 06:00"')
    due_at: datetime
    holder: str | None
    last_started_at: datetime | None
    last_finished_at: datetime | None
    last_holder: str | None
    last_outcome: str
    last_error: str | None
    last_touched: int
    runs: int
    failures: int


class JobsPublic(SQLModel):
    data: list[JobPublic]
    instances: list[str]  # processes that reported running the jobs within the last minute


@router.get("/jobs", response_model=JobsPublic, responses=refusals(*WITH_ROLE))
def list_jobs(db: SessionDep, _: Operator) -> JobsPublic:
    """Every scheduled job: when it is next due, who ran it last, how that went, and its counts (operators)."""
    seen = lease.instances_seen_since(db, utcnow() - timedelta(seconds=SEEN_WITHIN_S))
    return JobsPublic(data=[JobPublic.model_validate(row, from_attributes=True) for row in lease.leases(db)],
                      instances=sorted(i.holder for i in seen))
