"""The small HTTP app of the processes that serve no pages (gateway, scheduler): /healthz, /readyz, /metrics."""
from collections.abc import Callable

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry
from sqlalchemy.engine import Engine

from backend import health
from backend.core.metrics import exposition


def create_ops_app(engine: Engine, broker_connected: Callable[[], bool], registries: list[CollectorRegistry] = (),
                   scheduler_alive: Callable[[], bool] | None = None, fleet_gauges: bool = False) -> FastAPI:
    app = FastAPI(title="ScanPower operations", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.engine = engine
    app.state.broker_connected = broker_connected
    app.state.scheduler_alive = scheduler_alive
    app.include_router(health.router)
    live = [health.FleetGauges(engine)] if fleet_gauges else []

    @app.get("/metrics")
    def metrics() -> PlainTextResponse:
        return PlainTextResponse(exposition(list(registries), live), media_type=CONTENT_TYPE_LATEST)

    return app
