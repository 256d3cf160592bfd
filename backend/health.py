from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from backend.core.api_errors import ApiRoute

router = APIRouter(tags=["health"], route_class=ApiRoute)


class Checks(BaseModel):
    database: bool
    broker: bool


class Health(BaseModel):
    status: str
    checks: Checks


@router.get("/healthz", response_model=Health, responses={503: {"model": Health, "description": "Degraded"}})
def healthz(request: Request) -> JSONResponse:
    """200 when the database and the MQTT broker are reachable, else 503 saying which is not."""
    checks = {"database": _database_ok(request), "broker": bool(request.app.state.broker_connected())}
    status = 200 if all(checks.values()) else 503
    return JSONResponse({"status": "ok" if status == 200 else "degraded", "checks": checks}, status_code=status)


def _database_ok(request: Request) -> bool:
    try:
        with Session(request.app.state.engine) as db:
            db.exec(text("SELECT 1"))
        return True
    except SQLAlchemyError:
        return False
