"""The pages' languages: gettext catalogues (Babel) per locale, and the locale of the request being served.

Message ids are English; zh_CN is the default language and has a catalogue, English needs none.
Catalogues are compiled in memory from the .po files when first used, so there is no build step
and a compiled file can never be older than its source.
"""
import io
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from gettext import NullTranslations
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALES_DIR = Path(__file__).resolve().parent / "locales"
ZH = "zh_CN"
EN = "en"
LOCALES = (ZH, EN)
DEFAULT_LOCALE = ZH
DOMAIN = "messages"
HTML_LANG = {ZH: "zh-CN", EN: "en"}

_current: ContextVar[str] = ContextVar("page_locale", default=DEFAULT_LOCALE)


def po_path(locale: str) -> Path:
    return LOCALES_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(locale: str) -> NullTranslations:
    """The compiled catalogue of `locale` (English, the language of the message ids, has none)."""
    path = po_path(locale)
    if locale == EN or not path.exists():
        return NullTranslations()
    with path.open("rb") as source:
        catalog = read_po(source, locale=locale, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def current_locale() -> str:
    return _current.get()


def set_locale(locale: str) -> None:
    _current.set(locale if locale in LOCALES else DEFAULT_LOCALE)


@contextmanager
def use_locale(locale: str) -> Iterator[None]:
    token = _current.set(locale)
    try:
        yield
    finally:
        _current.reset(token)


def gettext(message: str, **values) -> str:
    """`message` in the request's language, with `%(name)s` placeholders filled from `values`."""
    text = translations(current_locale()).gettext(message)
    return text % values if values else text


def ngettext(singular: str, plural: str, n: int, **values) -> str:
    text = translations(current_locale()).ngettext(singular, plural, n)
    return text % {"num": n, **values}


def N_(message: str) -> str:
    """Mark a message for extraction where it is defined; it is translated where it is shown."""
    return message


_ = gettext
