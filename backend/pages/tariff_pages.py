"""Operators add and change tariffs: each is a document with versions and effective dates."""
import json

from fastapi import Request
from starlette.responses import RedirectResponse

from backend.core.clock import utcnow
from backend.core.errors import ScanPowerError
from backend.deps import Id, Operator
from backend.pages.errors import PageDb, discard_work, page_router
from backend.pages.flash import flash
from backend.pages.forms import FormData
from backend.pages.rendering import render
from backend.tariffs import service

router = page_router()


@router.get("/operator/tariffs")
def tariffs_page(request: Request, db: PageDb, operator: Operator):
    """Every tariff with the price now and its definition, editable."""
    return _page(request, db, operator)


@router.post("/operator/tariffs")
def add_tariff(request: Request, form: FormData, db: PageDb, operator: Operator):
    """Add a tariff from its JSON definition."""
    return _save(request, db, operator, form, lambda document: service.create_tariff(db, document), None)


@router.post("/operator/tariffs/{tariff_id}")
def change_tariff(tariff_id: Id, request: Request, form: FormData, db: PageDb, operator: Operator):
    """Replace a tariff's definition; versions already in effect must stay as they were."""
    return _save(request, db, operator, form,
                 lambda document: service.change_tariff(db, tariff_id, document, utcnow()), tariff_id)


def _save(request, db, operator, form, write, tariff_id):
    try:
        document = json.loads(form.get("definition", ""))
        if not isinstance(document, dict):
            raise ValueError("the definition must be a JSON object")
        saved = write(document)
    except (ValueError, RecursionError, ScanPowerError) as exc:
        discard_work(db)
        reason = exc.detail if isinstance(exc, ScanPowerError) else f"not valid JSON: {exc}"
        return _page(request, db, operator, error=reason, failed_id=tariff_id, draft=form.get("definition", ""),
                     status_code=422 if not isinstance(exc, ScanPowerError) else exc.status_code)
    return flash(RedirectResponse("/operator/tariffs", status_code=303), f"Saved “{saved.name}”.")


def _page(request, db, operator, error=None, failed_id=None, draft="", status_code=200):
    shown = [(service.tariff_public(t), json.dumps(json.loads(t.definition), ensure_ascii=False, indent=2))
             for t in service.list_tariffs(db)]
    return render(request, "tariffs.html", status_code=status_code, user=operator, tariffs=shown, error=error,
                  failed_id=failed_id, draft=draft)
