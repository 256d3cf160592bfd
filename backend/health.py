from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

router = APIRouter(tags=["health"])


@router.get("/healthz")
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
