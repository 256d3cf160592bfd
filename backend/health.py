from collections.abc import Iterator

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from pydantic import BaseModel
from sqlalchemy import func, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from backend.broker_accounts.models import BrokerAccount
from sqlmodel import Session, select

from backend.core.api_errors import ApiRoute
from backend.points.models import Meter, MeteringPoint
from backend.sessions.models import OPEN_STATUSES, UsageSession

router = APIRouter(tags=["health"], route_class=ApiRoute)


class Alive(BaseModel):
    status: str


class Checks(BaseModel):
    database: bool
    broker: bool
    scheduler: bool | None = None  # only where this process runs the scheduled jobs


class Ready(BaseModel):
    status: str
    checks: Checks


@router.get("/healthz", response_model=Alive)
def healthz() -> Alive:
    """200 while the process answers at all (liveness: restart it when this fails); checks nothing else."""
    return Alive(status="ok")


@router.get("/readyz", response_model=Ready, responses={503: {"model": Ready, "description": "Not ready"}})
def readyz(request: Request) -> JSONResponse:
    """200 when the database and the MQTT broker are reachable (and this process's scheduler runs), else 503."""
    checks = {"database": _database_ok(request), "broker": bool(request.app.state.broker_connected())}
    scheduler_alive = getattr(request.app.state, "scheduler_alive", None)
    if scheduler_alive is not None:
        checks["scheduler"] = bool(scheduler_alive())
    status = 200 if all(checks.values()) else 503
    return JSONResponse({"status": "ready" if status == 200 else "not ready", "checks": checks}, status_code=status)


def _database_ok(request: Request) -> bool:
    try:
        with Session(request.app.state.engine) as db:
            db.exec(text("SELECT 1"))
        return True
    except SQLAlchemyError:
        return False


class FleetGauges(Collector):
    """What the platform is doing right now, read from the database at each scrape (any process can serve it)."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            with Session(self.engine) as db:
                sessions = dict(db.exec(select(UsageSession.status, func.count()).where(
                    UsageSession.status.in_(OPEN_STATUSES)).group_by(UsageSession.status)).all())
                meters = dict(db.exec(select(Meter.online, func.count()).group_by(Meter.online)).all())
                points = dict(db.exec(select(MeteringPoint.status, func.count()).group_by(MeteringPoint.status)).all())
                waiting = db.exec(select(func.count(), func.count().filter(BrokerAccount.attempts > 0))
                                  .where(BrokerAccount.version > BrokerAccount.applied_version)).one()
        except SQLAlchemyError:
            return  # /readyz says the database is away; the metrics just lack these gauges
        yield _gauge("scanpower_sessions_open", "Open sessions, by status", "status",
                     {status.value: sessions.get(status, 0) for status in OPEN_STATUSES})
        yield _gauge("scanpower_meters", "Meters, by whether they are online", "state",
                     {"online": meters.get(True, 0), "offline": meters.get(False, 0)})
        yield _gauge("scanpower_points", "Metering points, by status", "status",
                     {str(status): count for status, count in points.items()})
        yield _gauge("scanpower_broker_accounts", "Meters' and DTUs' account changes not yet on the broker "
                     "(failing: tried and failed at least once)", "state",
                     {"pending": waiting[0], "failing": waiting[1]})


def _gauge(name: str, documentation: str, label: str, values: dict[str, int]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=[label])
    for value, count in sorted(values.items()):
        family.add_metric([value], count)
    return family
