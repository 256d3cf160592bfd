"""An urlencoded form body read field by field, keeping no more of any one value than a form could need.

Starlette refuses a form with any field over 1 MB as a bare 400, and the person loses everything they typed.
Here such a field is kept as `TooLong` (an empty text that says it was cut), the others as they were sent,
so the page can show the same form again with a message next to that field.
"""
from urllib.parse import unquote_plus

from python_multipart import QuerystringParser
from starlette.requests import Request

FIELD_CAP_BYTES = 64 * 1024  # as sent, percent-encoded: ~7,000 Chinese characters, far beyond any field of ours
NAME_CAP_BYTES = 256
MAX_FIELDS = 1000


class TooLong(str):
    """A field whose value was far too long to keep: empty, and marked as cut."""


class PostedFields(dict[str, str]):
    """The fields by name, and whether any field, repeated ones too, held a NUL character."""

    has_nul = False


class FormTooComplex(ValueError):
    """More fields than any form has."""


class _Fields:
    """python-multipart's callbacks, collecting each field up to the caps."""

    def __init__(self) -> None:
        self.found = PostedFields()
        self._count = 0
        self._name, self._value, self._cut = bytearray(), bytearray(), False

    def start(self) -> None:
        self._name, self._value, self._cut = bytearray(), bytearray(), False

    def name(self, data: bytes, start: int, end: int) -> None:
        self._name += data[start:end][:NAME_CAP_BYTES - len(self._name)]

    def data(self, data: bytes, start: int, end: int) -> None:
        if self._cut or len(self._value) + end - start > FIELD_CAP_BYTES:
            self._cut = True
            self._value.clear()
            return
        self._value += data[start:end]

    def end(self) -> None:
        self._count += 1
        if self._count > MAX_FIELDS:
            raise FormTooComplex(f"more than {MAX_FIELDS} fields")
        name, value = _decoded(self._name), TooLong() if self._cut else _decoded(self._value)
        self.found.has_nul = self.found.has_nul or "\x00" in name + value
        self.found[name] = value  # the last of a name, as Starlette keeps it


def _decoded(raw: bytearray) -> str:
    return unquote_plus(raw.decode("ascii", errors="replace"), encoding="utf-8", errors="replace")


def read_fields(body: bytes) -> PostedFields:
    """The fields of an urlencoded body, a value over the cap as `TooLong`."""
    fields = _Fields()
    parser = QuerystringParser({"on_field_start": fields.start, "on_field_name": fields.name,
                                "on_field_data": fields.data, "on_field_end": fields.end})
    parser.write(body)
    parser.finalize()
    return fields.found


def is_urlencoded(request: Request) -> bool:
    return request.headers.get("content-type", "").split(";")[0].strip() == "application/x-www-form-urlencoded"


async def posted_fields(request: Request) -> PostedFields:
    """The request's urlencoded fields, read once per request (the body stays readable for `request.form()`)."""
    found = getattr(request.state, "posted_fields", None)
    if found is None:
        found = request.state.posted_fields = read_fields(await request.body())
    return found
