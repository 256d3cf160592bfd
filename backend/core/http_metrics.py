"""The API's request metrics (prometheus_client): how many requests, how they ended, how long they took."""
import time

from fastapi import FastAPI, Request
from prometheus_client import CollectorRegistry, Counter, Histogram

UNMATCHED = "unmatched"  # no route: 404s of scanners must not make a label per address
SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class HttpMetrics:
    """One app's families, in the app's own registry (tests build many apps in one process)."""

    def __init__(self, registry: CollectorRegistry, api_prefix: str):
        self.api_prefix = api_prefix
        self.requests = Counter("scanpower_http_requests", "HTTP requests answered, by route and status",
                                ["method", "route", "status"], registry=registry)
        self.seconds = Histogram("scanpower_http_request_seconds", "Time to answer an HTTP request, by route",
                                 ["method", "route"], buckets=SECONDS, registry=registry)
        self.rejected = Counter("scanpower_http_rejected", "Requests refused, by the error's name",
                                ["reason"], registry=registry)
        self.webhooks = Counter("scanpower_http_webhooks", "Payment notifications and webhooks, by source and "
                                "outcome", ["source", "outcome"], registry=registry)

    def install(self, app: FastAPI) -> None:
        @app.middleware("http")
        async def measure(request: Request, call_next):
            started = time.perf_counter()
            response = await call_next(request)
            route = self.template(request)
            self.requests.labels(request.method, route, str(response.status_code)).inc()
            self.seconds.labels(request.method, route).observe(time.perf_counter() - started)
            return response

    def template(self, request: Request) -> str:
        """The matched route's address template, e.g. /api/v1/sessions/{session_id}."""
        route = request.scope.get("route")
        if route is None:
            return UNMATCHED
        # A route of an included router knows its path without the prefix it was included under.
        under_api = request.url.path.startswith(self.api_prefix + "/") and not route.path.startswith(self.api_prefix)
        return self.api_prefix + route.path if under_api else route.path
