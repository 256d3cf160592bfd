"""PostgreSQL text cannot hold NUL: a request with one in its address, query or form is refused first."""
from urllib.parse import unquote_plus

from fastapi import HTTPException, Request

from backend.core.errors import ScanPowerError
from backend.core.form_body import FormTooComplex, is_urlencoded, posted_fields

FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


class NulCharacter(ScanPowerError):
    """A NUL character (\\0) where no field accepts one."""


async def refuse_nul(request: Request) -> None:
    """An app-wide dependency: runs before any route reads the request. JSON bodies are checked by their types."""
    if "\x00" in request.url.path:
        raise NulCharacter("the address contains a NUL character (\\0)")
    if "\x00" in unquote_plus(request.scope.get("query_string", b"").decode("latin-1")):
        raise NulCharacter("the query contains a NUL character (\\0)")
    if is_urlencoded(request) and not await _has_read_form(request):
        try:
            fields = await posted_fields(request)  # read with a cap per field, unlike request.form()
        except FormTooComplex as exc:
            raise HTTPException(400, str(exc)) from exc
        if fields.has_nul:
            raise NulCharacter("the form contains a NUL character (\\0)")
    elif request.headers.get("content-type", "").startswith(FORMS):
        form = await request.form()
        if any("\x00" in key or (isinstance(value, str) and "\x00" in value) for key, value in form.multi_items()):
            raise NulCharacter("the form contains a NUL character (\\0)")


async def _has_read_form(request: Request) -> bool:
    """Whether FastAPI already parsed the form (a route with form parameters, such as the token endpoint)."""
    return request._form is not None  # then the body's stream is spent, and the parsed form is what is checked
