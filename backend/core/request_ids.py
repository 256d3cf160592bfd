"""Every request gets an id: the caller's X-Request-ID when it is sane, else a new one; logged and echoed back."""
import logging
import re
import time
import uuid
from collections.abc import Callable

from fastapi import FastAPI, Request

from backend.core import log_context

log = logging.getLogger("scanpower.requests")
HEADER = "X-Request-ID"
SANE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")  # a proxy's id passes; anything else could forge log lines


def install(app: FastAPI, route_of: Callable[[Request], str]) -> None:
    @app.middleware("http")
    async def request_id(request: Request, call_next):
        given = request.headers.get(HEADER, "")
        rid = given if SANE.match(given) else uuid.uuid4().hex
        started = time.perf_counter()
        with log_context.bound(request_id=rid):
            response = await call_next(request)
            log.info("%s %s %d", request.method, route_of(request), response.status_code,
                     extra={"method": request.method, "route": route_of(request), "status": response.status_code,
                            "ms": round((time.perf_counter() - started) * 1000, 1)})
        response.headers[HEADER] = rid
        return response
