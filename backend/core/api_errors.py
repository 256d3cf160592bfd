"""How the API refuses: one error body for every refusal, and each route's refusals declared in OpenAPI."""
import re
from http import HTTPStatus
from typing import Any

from fastapi import Request
from fastapi.dependencies.utils import get_flat_params
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.utils import create_model_field
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from backend.core.errors import Forbidden, NotAuthenticated, ScanPowerError

SIGNED_IN = (NotAuthenticated,)  # routes for any signed-in user
WITH_ROLE = (NotAuthenticated, Forbidden)  # routes for one role
MALFORMED = "Malformed: a NUL character in the address, query or form, or a body that cannot be read"
BUSY = ("DatabaseUnavailable: a lock was held too long or the database is away; nothing changed, "
        "retry after Retry-After seconds")
INVALID = "ValidationError"


class FieldProblem(BaseModel):
    field: str = Field(description="Where the problem is, e.g. capacity_kw or versions.0.label")
    message: str


class ErrorBody(BaseModel):
    """Every refusal: the error's name and why (a list of field problems for a ValidationError)."""

    error: str = Field(description="The error's name, e.g. PointNotFound, ValidationError, NotFound")
    detail: str | list[FieldProblem]


def error_json(status_code: int, error: str, detail: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail}, status_code=status_code, headers=headers)


def http_error_json(exc: HTTPException, request: Request | None = None) -> JSONResponse:
    """Starlette's own refusals (no such address or method, an unreadable body) in the API's error shape."""
    name = HTTPStatus(exc.status_code).phrase.title().replace(" ", "").replace("-", "")
    headers = dict(exc.headers or {})
    documented = _methods_at(request) if exc.status_code == 405 and request is not None else []
    if documented:
        headers["Allow"] = ", ".join(documented)
    return error_json(exc.status_code, name, str(exc.detail), headers or None)


def _methods_at(request: Request) -> list[str]:
    """The methods the OpenAPI document lists for the address; Starlette's 405 names one route's only."""
    for template, operations in request.app.openapi()["paths"].items():
        pattern = "/".join("[^/]+" if part.startswith("{") else re.escape(part) for part in template.split("/"))
        if re.fullmatch(pattern, request.url.path):
            return sorted(method.upper() for method in operations)
    return []


def refusals(*errors: type[ScanPowerError]) -> dict[int | str, dict[str, Any]]:
    """A route's `responses=`: each status its errors render as, with their names."""
    declared: dict[int | str, dict[str, Any]] = {}
    for error in errors:
        _declare(declared, error.status_code, error.__name__)
    return declared


def _declare(responses: dict[int | str, dict[str, Any]], status: int, name: str) -> None:
    known = responses.setdefault(status, {"model": ErrorBody, "description": ""})
    names = [n for n in known.get("description", "").split(", ") if n]
    known["description"] = ", ".join(names + [name] if name not in names else names)


class ApiRoute(APIRoute):
    """An API route that declares what any route can answer: 400, 503, and 422 when it takes input."""

    def __init__(self, path: str, endpoint: Any, **kwargs: Any):
        responses = {status: dict(answer) for status, answer in (kwargs.pop("responses", None) or {}).items()}
        super().__init__(path, endpoint, responses=responses, **kwargs)
        self.responses.setdefault(400, {"model": ErrorBody, "description": MALFORMED})
        self.responses.setdefault(503, {"model": ErrorBody, "description": BUSY})
        if self.body_field is not None or get_flat_params(self.dependant):
            _declare(self.responses, 422, INVALID)
        for status in (400, 422, 503):
            # FastAPI reads the models of `responses` before it knows the route's inputs; add theirs now.
            if status in self.responses and status not in self.response_fields:
                self.response_fields[status] = create_model_field(
                    name=f"Response_{status}_{self.unique_id}", type_=ErrorBody, mode="serialization")
