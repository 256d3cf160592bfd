"""Build the FastAPI application: API under /api/v1, pages at the root."""
import logging
from collections.abc import Callable

from pathlib import Path

import fastapi_offline
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.engine import Engine
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException

from backend import health
from backend.alarms import endpoints as alarms
from backend.broker_accounts import endpoints as broker_auth_endpoints
from backend.broker_accounts.broker_auth import BrokerAuth
from backend.broker_accounts.configured import device_policy, live_accounts
from backend.broker_accounts.provisioner import Provisioner
from backend.dtu import endpoints as dtu
from backend.core.api_errors import ApiRoute, error_json, http_error_json
from backend.core import request_ids
from backend.core.clock import utcnow
from backend.core.config import Settings
from backend.core.errors import NotAuthenticated, ScanPowerError, TooManyRequests
from backend.core.http_metrics import HttpMetrics
from backend.core.metrics import exposition
from backend.core.nul_guard import refuse_nul
from backend.meters.orders import OrderSink
from backend.points import endpoints as points
from backend.points.commissioning import broker_for_meters
from backend.sessions import endpoints as sessions
from backend.tariffs import endpoints as tariffs
from backend.users import endpoints as users
from backend.reconciliation import endpoints as reconciliation
from backend.jobs import endpoints as jobs
from backend.wallet import endpoints as wallet
from backend.payments import endpoints as payments
from backend.payments.configured import providers_from
from backend.webhooks import endpoints as webhooks
from billing.payments.interface import PaymentProvider
from billing.payments.providers import Providers

log = logging.getLogger(__name__)
API_PREFIX = "/api/v1"
DESCRIPTION = ("Shared scan-to-use metering (扫码用电): scan an outlet, get power, pay for what you use. "
               "Sign in with `POST /api/v1/auth/token` (username = phone number) and send the token as "
               "`Authorization: Bearer …`; `POST /api/v1/auth/logout` revokes it. Errors are "
               "`{\"error\": Name, \"detail\": reason}`.")


def create_app(settings: Settings, engine: Engine, order_sink: OrderSink,
               broker_connected: Callable[[], bool], payment_provider: PaymentProvider | Providers | None = None,
               registries: list[CollectorRegistry] = ()) -> FastAPI:
    # Swagger UI is served from the installed package: no CDN, so /docs works offline.
    app = FastAPI(title="ScanPower", version="0.1.0", description=DESCRIPTION, docs_url=None,
                  dependencies=[Depends(refuse_nul)])
    app.router.route_class = ApiRoute
    _add_docs(app)
    app.state.settings = settings
    app.state.clock = utcnow  # tests replace it to move time on
    app.state.engine = engine
    app.state.order_sink = order_sink
    app.state.broker_connected = broker_connected
    app.state.meter_broker_url = broker_for_meters(settings.meter_broker_url, settings.mqtt_url)
    # Every configured provider by name; `payment_provider` is the default, for requests that choose none.
    app.state.payments = Providers.of(payment_provider) if payment_provider is not None else providers_from(settings)
    app.state.payment_provider = app.state.payments.default
    app.state.registry = CollectorRegistry()
    app.state.http_metrics = HttpMetrics(app.state.registry, API_PREFIX)
    app.state.http_metrics.install(app)
    # Other parts in the same process (`scanpower run`'s gateway) show their figures here too.
    app.state.registries = [app.state.registry, *registries]
    _add_broker_accounts(app, settings, engine)
    for module in (users, points, dtu, sessions, tariffs, wallet, payments, webhooks, reconciliation, alarms, jobs):
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(health.router)

    # response_class=Response: the declared errors stay JSON; only the 200 is text.
    @app.get("/metrics", response_class=Response, tags=["health"],
             responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}})
    def metrics() -> Response:
        """Requests, refusals, open sessions, meters online, money settled and jobs, in Prometheus text format."""
        text = exposition(app.state.registries, [health.FleetGauges(app.state.engine)])
        return PlainTextResponse(text, media_type=CONTENT_TYPE_LATEST)

    _add_pages(app)
    _add_error_handlers(app)
    _add_browser_protection(app, settings)
    request_ids.install(app, app.state.http_metrics.template)  # outermost: every log line of a request has its id
    return app


# Swagger UI 5 (it reads OpenAPI 3.1, which FastAPI serves) as shipped inside the fastapi-offline package.
SWAGGER_UI = Path(fastapi_offline.__file__).resolve().parent / "static"


def _add_broker_accounts(app: FastAPI, settings: Settings, engine: Engine) -> None:
    """With live accounts, an approval, re-issue or closing reaches the broker right after its commit; with `http`,
    the broker asks."""
    if settings.broker_accounts == "http":
        app.state.broker_auth = BrokerAuth(engine, settings)
        app.router.on_shutdown.append(app.state.broker_auth.forget_on_commit)
        app.include_router(broker_auth_endpoints.router, prefix=API_PREFIX)
    broker = live_accounts(settings)
    if broker is None:
        return
    app.state.provisioner = Provisioner(engine, broker, device_policy(settings))
    app.router.on_startup.append(app.state.provisioner.start)
    app.router.on_shutdown.append(app.state.provisioner.stop)


def _add_docs(app: FastAPI) -> None:
    app.mount("/docs-assets", StaticFiles(directory=SWAGGER_UI), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs():
        return get_swagger_ui_html(openapi_url=app.openapi_url, title="ScanPower API",
                                   swagger_js_url="/docs-assets/swagger-ui-bundle.js",
                                   swagger_css_url="/docs-assets/swagger-ui.css",
                                   swagger_favicon_url="/docs-assets/favicon.png")


def _add_pages(app: FastAPI) -> None:
    from backend.pages import routes as pages
    pages.mount(app)


def _add_browser_protection(app: FastAPI, settings: Settings) -> None:
    """CSRF checks on cookie-authenticated requests; client address and https from trusted proxies only."""
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    from backend.pages.csrf_guard import CsrfGuard
    from backend.pages.language import LanguageMiddleware
    app.add_middleware(CsrfGuard, api_prefix=API_PREFIX, public_base_url=settings.public_base_url,
                       router=app.router)
    app.add_middleware(LanguageMiddleware)  # outside the CSRF guard: its refusal page is translated too
    if settings.trusted_proxies:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)  # outermost: runs first


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ScanPowerError)
    async def domain_error(request: Request, exc: ScanPowerError):
        log.info("%s %s -> %s: %s", request.method, request.url.path, type(exc).__name__, exc.detail)
        app.state.http_metrics.rejected.labels(type(exc).__name__).inc()
        if isinstance(exc, NotAuthenticated) and not request.url.path.startswith(API_PREFIX):
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, NotAuthenticated) else None
        if isinstance(exc, TooManyRequests):
            headers = {"Retry-After": str(exc.retry_after)}
        return error_json(exc.status_code, type(exc).__name__, exc.detail, headers)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        log.info("%s %s -> %s: %s", request.method, request.url.path, exc.status_code, exc.detail)
        app.state.http_metrics.rejected.labels(f"http_{exc.status_code}").inc()
        if not request.url.path.startswith(("/api/", "/static/", "/docs-assets/")):
            from backend.pages.errors import http_error_page
            return http_error_page(request, exc)
        return http_error_json(exc, request)

    @app.exception_handler(OperationalError)
    async def database_unavailable(request: Request, exc: OperationalError):
        # A deadlock victim, a lock timeout or a database that is away: nothing was committed, so a retry is safe.
        log.warning("%s %s -> 503: %s", request.method, request.url.path, getattr(exc, "orig", exc))
        app.state.http_metrics.rejected.labels("DatabaseUnavailable").inc()
        return error_json(503, "DatabaseUnavailable", "the database is busy or unreachable; nothing was changed, "
                          "try again", {"Retry-After": "1"})

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError):
        problems = [{"field": ".".join(str(p) for p in e["loc"][1:]) or "body", "message": e["msg"]}
                    for e in exc.errors()]
        log.info("%s %s -> 422: %s", request.method, request.url.path, problems)
        app.state.http_metrics.rejected.labels("ValidationError").inc()
        return error_json(422, "ValidationError", problems)
