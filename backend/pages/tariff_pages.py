"""Operators read and change tariffs as forms: periods, prices and effective dates, with a preview before saving."""
import json
from datetime import timedelta
from typing import Any

from fastapi import Request
from sqlmodel import Session
from starlette.responses import RedirectResponse, Response

from backend.core.clock import local_today, utcnow
from backend.core.errors import ScanPowerError
from backend.deps import Id, Operator
from backend.pages.errors import PageDb, discard_work, page_router
from backend.pages.flash import flash
from backend.pages.forms import FORM_WIDE, FormData
from backend.pages.i18n import gettext
from backend.pages.refusals import refusal_text
from backend.pages.rendering import render
from backend.pages.tariff_form import (
    MODES,
    PERIOD_CHOICES,
    RATIO_PERIODS,
    ROWS,
    SEASONS,
    day_prices,
    document_with,
    form_of_version,
    version_of_form,
)
from backend.tariffs import service
from backend.tariffs.models import Tariff, TariffCategory
from backend.users.models import User
from billing import tariffs as engine

router = page_router()
NEW_FIELDS = ("name", "title", "category")


@router.get("/operator/tariffs")
def tariffs_page(request: Request, db: PageDb, operator: Operator):
    """Every tariff: whether it is in effect, today's prices, and its versions."""
    today = local_today()
    shown = [(t, service.tariff_public(t), service.in_effect(t), service.starts_at(t),
              day_prices(service.tariff_engine(t), today), json.loads(t.definition)["versions"])
             for t in service.list_tariffs(db)]
    return render(request, "tariffs.html", user=operator, tariffs=shown, today=today)


@router.get("/operator/tariffs/new")
def new_form(request: Request, operator: Operator):
    """The form for a new tariff and its first version."""
    tomorrow = (local_today() + timedelta(days=1)).isoformat()
    values = {"mode": "flat", "category": "commercial", "effective_from": tomorrow}
    return _edit_page(request, operator, None, values, {})


@router.post("/operator/tariffs/new")
def add_tariff(request: Request, form: FormData, db: PageDb, operator: Operator):
    """Preview the new tariff, or save it."""
    base = {"name": form.get("name", "").strip(), "title": form.get("title", "").strip(),
            "category": form.get("category", ""), "versions": []}
    return _preview_or_save(request, db, operator, None, form, base,
                            lambda document: service.create_tariff(db, document, operator))


@router.get("/operator/tariffs/{tariff_id}/edit")
def edit_form(tariff_id: Id, request: Request, db: PageDb, operator: Operator):
    """A new version of the tariff, filled from its latest one and starting tomorrow."""
    tariff = service.get_tariff(db, tariff_id)
    latest = json.loads(tariff.definition)["versions"][-1]
    values = form_of_version(latest) | {"effective_from": (local_today() + timedelta(days=1)).isoformat()}
    return _edit_page(request, operator, tariff, values, {})


@router.post("/operator/tariffs/{tariff_id}/edit")
def change_tariff(tariff_id: Id, request: Request, form: FormData, db: PageDb, operator: Operator):
    """Preview the tariff with the new version, or save it; versions in effect never change."""
    tariff = service.get_tariff(db, tariff_id)
    return _preview_or_save(request, db, operator, tariff, form, json.loads(tariff.definition),
                            lambda document: service.change_tariff(db, tariff_id, document, utcnow(), operator))


def _preview_or_save(request: Request, db: Session, operator: User, tariff: Tariff | None, form: dict[str, str],
                     base: dict[str, Any], save) -> Response:
    version, errors = version_of_form(form)
    if tariff is None and not base["name"]:
        errors["name"] = gettext("Required")
    if errors:
        return _edit_page(request, operator, tariff, form, errors, status_code=422)
    document = document_with(base, version)
    try:
        priced = engine.load_tariff(document)
    except engine.InvalidTariff as exc:
        return _edit_page(request, operator, tariff, form, {FORM_WIDE: gettext(
            "The tariff is not complete or not consistent. Check the periods: together they must cover the "
            "whole day once, and every month must be in one season.")}, technical=str(exc), status_code=422)
    if form.get("action") != "save":
        first_day = priced.version_labelled(version["label"]).effective_from.date()
        return _edit_page(request, operator, tariff, form, {}, preview=[
            (local_today(), day_prices(priced, local_today())), (first_day, day_prices(priced, first_day))])
    try:
        saved = save(document)
    except ScanPowerError as exc:
        discard_work(db)
        return _edit_page(request, operator, tariff, form, {FORM_WIDE: refusal_text(exc)},
                          technical=exc.detail, status_code=exc.status_code)
    return flash(RedirectResponse("/operator/tariffs", status_code=303), gettext("Saved “%(name)s”.", name=saved.name))


def _edit_page(request: Request, operator: User, tariff: Tariff | None, values: dict[str, str],
               errors: dict[str, str], preview=None, technical: str | None = None, status_code: int = 200) -> Response:
    return render(request, "tariff_edit.html", status_code=status_code, user=operator, tariff=tariff, values=values,
                  errors=errors, preview=preview, technical=technical, modes=MODES, periods=PERIOD_CHOICES,
                  ratio_periods=RATIO_PERIODS, seasons=range(SEASONS), rows=range(ROWS),
                  categories=[c.value for c in TariffCategory])
