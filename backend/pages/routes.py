"""Server-rendered pages: mounted at the root, next to the API under /api/v1."""
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from backend.pages import (
    account,
    applicant,
    home,
    label_sheet,
    language,
    operator,
    operator_actions,
    operator_jobs,
    operator_meters,
    operator_payments,
    operator_search,
    paying,
    point_pages,
    scan,
    session_pages,
    tariff_pages,
    vendor,
    wallet,
)
from backend.reconciliation import pages as reconciliation_pages

STATIC = Path(__file__).resolve().parent / "static"
PAGE_MODULES = (home, language, account, scan, wallet, paying, session_pages, vendor, applicant, point_pages, operator,
                operator_meters, operator_actions, operator_jobs, operator_search, operator_payments, label_sheet,
                tariff_pages, reconciliation_pages)


def mount(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for module in PAGE_MODULES:
        app.include_router(module.router, include_in_schema=False)
