"""HTML forms read into the domain's pydantic models, so each rule lives in one place; mistakes in plain words."""
import logging
from typing import Annotated, TypeVar

from fastapi import Depends, HTTPException, Request
from pydantic import BaseModel, ValidationError

from backend.core.form_body import FormTooComplex, TooLong, is_urlencoded, posted_fields
from backend.pages.i18n import N_, gettext

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)
FORM_WIDE = ""  # the key of errors that belong to the whole form, not one field

# By pydantic's error type (and the domain's own custom types); never pydantic's English text.
_PLAIN_WORDS = {
    "missing": N_("Required"),
    "decimal_parsing": N_("Enter a number, e.g. 20 or 20.50"),
    "decimal_type": N_("Enter a number, e.g. 20 or 20.50"),
    "float_parsing": N_("Enter a number"),
    "float_type": N_("Enter a number"),
    "int_parsing": N_("Enter a whole number"),
    "int_type": N_("Enter a whole number"),
    "int_from_float": N_("Enter a whole number"),
    "date_parsing": N_("Enter a date, e.g. 2026-06-01"),
    "date_from_datetime_parsing": N_("Enter a date, e.g. 2026-06-01"),
    "date_type": N_("Enter a date, e.g. 2026-06-01"),
    "finite_number": N_("Enter a number"),
    "string_pattern_mismatch": N_("Not in the expected format"),
    "string_too_short": N_("At least %(min_length)s characters"),
    "string_too_long": N_("At most %(max_length)s characters"),
    "greater_than": N_("Must be more than %(gt)s"),
    "greater_than_equal": N_("Must be at least %(ge)s"),
    "less_than": N_("Must be less than %(lt)s"),
    "less_than_equal": N_("Must be at most %(le)s"),
    "decimal_max_places": N_("At most %(decimal_places)s decimal places"),
    "decimal_max_digits": N_("Too many digits"),
    "decimal_whole_digits": N_("Too many digits before the decimal point"),
    "enum": N_("Choose one of the options"),
    "literal_error": N_("Choose one of the options"),
    "validity_order": N_("Must not be before the start date"),
    "validity_too_long": N_("A temporary connection lasts at most %(max_days)s days"),
    "self_made_operator": N_("Operators are created by an operator, not by sign-up"),
}
_UNKNOWN = N_("Check this value")
_TOO_LONG = N_("Far too long, so it was not kept: type it again, shorter")
# Errors of a whole model that belong next to one field.
_FIELD_OF = {"validity_order": "valid_until", "validity_too_long": "valid_until"}


async def read_form(request: Request) -> dict[str, str]:
    """The posted fields as text (a far too long one as `TooLong`); uploads are not expected and are ignored."""
    if is_urlencoded(request):
        try:
            fields = await posted_fields(request)
        except FormTooComplex as exc:
            raise HTTPException(400, str(exc)) from exc
        cut = sorted(name for name, value in fields.items() if isinstance(value, TooLong))
        if cut:
            log.info("%s %s: far too long, not kept: %s", request.method, request.url.path, cut)
            request.app.state.http_metrics.rejected.labels("FormFieldTooLong").inc()
        return fields
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}


FormData = Annotated[dict[str, str], Depends(read_form)]


def parse(model: type[M], data: dict[str, str], fields: tuple[str, ...]) -> tuple[M | None, dict[str, str]]:
    """The model built from `fields` of the form, or a message per field (FORM_WIDE for the whole form)."""
    # Blank inputs count as missing so the model's defaults apply; passwords keep their spaces.
    values = {f: data[f] if "password" in f else data[f].strip() for f in fields if data.get(f, "").strip()}
    cut = {f: gettext(_TOO_LONG) for f in fields if isinstance(data.get(f), TooLong)}
    try:
        body = model.model_validate(values)
    except ValidationError as exc:
        return None, cut | {f: m for f, m in messages(exc).items() if f not in cut}
    return (None, cut) if cut else (body, {})


def messages(exc: ValidationError) -> dict[str, str]:
    found: dict[str, str] = {}
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else _FIELD_OF.get(error["type"], FORM_WIDE)
        found.setdefault(field, plain(error))
    return found


def plain(error: dict) -> str:
    """One pydantic error in the request's language."""
    words = _PLAIN_WORDS.get(error["type"], _UNKNOWN)
    context = {key: str(value) for key, value in (error.get("ctx") or {}).items()}
    try:
        return gettext(words) % context if "%(" in words else gettext(words)
    except KeyError:
        return gettext(_UNKNOWN)

