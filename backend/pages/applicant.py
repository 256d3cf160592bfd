"""The applicant's home (their points, each with its next step) and the application form."""
from fastapi import Request
from starlette.responses import RedirectResponse, Response

from backend.core.clock import local_today
from backend.core.errors import ScanPowerError
from backend.deps import Applicant
from backend.pages.display import PURPOSE_TEXT
from backend.pages.errors import PageDb, discard_work, page_router
from backend.pages.flash import flash
from backend.pages.forms import FORM_WIDE, FormData, parse
from backend.pages.i18n import gettext
from backend.pages.point_words import next_step
from backend.pages.refusals import refusal_text
from backend.pages.rendering import render
from backend.points import service as points
from backend.points.models import MAX_VALIDITY_DAYS, PointApply
from backend.points.notices import current_notices
from backend.sessions.usage import usage_by_point
from backend.users.models import User

router = page_router()
APPLY_FIELDS = ("name", "address", "latitude", "longitude", "purpose", "capacity_kw", "outlet_count",
                "outlet_rated_current_a", "valid_from", "valid_until")
FIELD_CHARS = 300  # what a form shows back of a field; longer text is refused by the model anyway


@router.get("/applicant")
def applicant_home(request: Request, db: PageDb, applicant: Applicant):
    """The applicant's points with status, next step, outlets and usage."""
    found = points.list_points(db, applicant)
    used = usage_by_point(db, [p.id for p in found])
    meters = {p.id: points.meter_of_point(db, p.id) for p in found}
    names = {p.id: p.name for p in found}
    ending = [(names[n.point_id], n.valid_until) for n in current_notices(db, applicant.id, local_today())
              if n.point_id in names]
    return render(request, "applicant_home.html", user=applicant, points=found, usage=used,
                  steps={p.id: next_step(p, meters[p.id]) for p in found}, seasons_ending=ending)


@router.get("/applicant/apply")
def apply_form(request: Request, applicant: Applicant):
    """The form for a new temporary metering point."""
    values = {"outlet_rated_current_a": "16", "valid_from": local_today().isoformat(), "purpose": "night_market"}
    return _form(request, applicant, values, {})


@router.post("/applicant/apply")
def apply(request: Request, form: FormData, db: PageDb, applicant: Applicant):
    """Submit the application; mistakes are shown next to their fields, and what was typed is kept."""
    body, errors = parse(PointApply, form, APPLY_FIELDS)
    if body is not None:
        try:
            point = points.apply_for_point(db, applicant, body)
        except ScanPowerError as exc:
            discard_work(db)
            errors = {FORM_WIDE: refusal_text(exc)}
        else:
            text = gettext("Application for “%(name)s” submitted; an operator will review it.", name=point.name)
            return flash(RedirectResponse("/applicant", status_code=303), text)
    return _form(request, applicant, {f: form.get(f, "")[:FIELD_CHARS] for f in APPLY_FIELDS}, errors, 422)


def _form(request: Request, applicant: User, values: dict[str, str], errors: dict[str, str],
          status_code: int = 200) -> Response:
    return render(request, "apply.html", status_code=status_code, user=applicant, values=values, errors=errors,
                  purposes=PURPOSE_TEXT, max_days=MAX_VALIDITY_DAYS)
