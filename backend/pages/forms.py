"""HTML forms read into the domain's pydantic models, so each rule lives in one place."""
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)
FORM_WIDE = ""  # the key of errors that belong to the whole form, not one field

_PLAIN_WORDS = {
    "missing": "Required",
    "decimal_parsing": "Enter a number, e.g. 20 or 20.50",
    "float_parsing": "Enter a number",
    "int_parsing": "Enter a whole number",
    "date_parsing": "Enter a date, e.g. 2026-06-01",
    "date_from_datetime_parsing": "Enter a date, e.g. 2026-06-01",
    "finite_number": "Enter a number",
    "string_pattern_mismatch": "Not in the expected format",
    "string_too_short": "At least {min_length} characters",
    "string_too_long": "At most {max_length} characters",
}


async def read_form(request: Request) -> dict[str, str]:
    """The posted fields as text; uploads are not expected and are ignored."""
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}


FormData = Annotated[dict[str, str], Depends(read_form)]


def parse(model: type[M], data: dict[str, str], fields: tuple[str, ...]) -> tuple[M | None, dict[str, str]]:
    """The model built from `fields` of the form, or a message per field (FORM_WIDE for the whole form)."""
    # Blank inputs count as missing so the model's defaults apply; passwords keep their spaces.
    values = {f: data[f] if "password" in f else data[f].strip() for f in fields if data.get(f, "").strip()}
    try:
        return model.model_validate(values), {}
    except ValidationError as exc:
        return None, messages(exc)


def messages(exc: ValidationError) -> dict[str, str]:
    found: dict[str, str] = {}
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else FORM_WIDE
        found.setdefault(field, _plain(error))
    return found


def _plain(error: dict) -> str:
    words = _PLAIN_WORDS.get(error["type"])
    text = words.format(**error.get("ctx", {})) if words else error["msg"].removeprefix("Value error, ")
    return text[:1].upper() + text[1:]
