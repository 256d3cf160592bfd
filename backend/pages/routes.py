"""Server-rendered pages: mounted at the root, next to the API under /api/v1."""
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from backend.core.api_errors import http_error_json
from backend.pages import (
    account,
    applicant,
    home,
    label_sheet,
    operator,
    scan,
    session_pages,
    tariff_pages,
    vendor,
    wallet,
)
from backend.pages.errors import error_page
from backend.pages.i18n import gettext
from backend.reconciliation import pages as reconciliation_pages

STATIC = Path(__file__).resolve().parent / "static"
PAGE_MODULES = (home, account, scan, wallet, session_pages, vendor, applicant, operator, label_sheet, tariff_pages,
                reconciliation_pages)


def mount(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for module in PAGE_MODULES:
        app.include_router(module.router, include_in_schema=False)
    app.add_exception_handler(404, _not_found)


async def _not_found(request: Request, exc: HTTPException):
    """A mistyped page address gets a page; the API and static files answer in the API's error shape."""
    if request.url.path.startswith(("/api/", "/static/")):
        return http_error_json(exc, request)
    return error_page(request, 404, gettext("There is no page at this address."))
