"""Every word a page can show has its Chinese translation: the catalogue, the refusals, and the pages themselves."""
import importlib
import pkgutil
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

import backend
import billing
from backend.core.errors import ScanPowerError
from backend.pages import display
from backend.pages.i18n import gettext, po_path, use_locale
from backend.pages.refusals import REFUSALS

REPO = Path(__file__).resolve().parents[2]
METHODS = [("backend/**.py", "python"), ("backend/pages/templates/**.html", "jinja2")]
OPTIONS = {"backend/pages/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
REFUSALS_BY_NAME = {cls.__qualname__: refusal for cls, refusal in REFUSALS.items()}


def _extracted() -> set:
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(str(REPO), METHODS, OPTIONS):
        found.add(message)
    return found


@pytest.fixture(scope="module")
def catalogue():
    with po_path("zh_CN").open("rb") as source:
        return read_po(source, locale="zh_CN")


def test_every_message_in_the_code_has_a_chinese_translation(catalogue):
    translated = {m.id: m for m in catalogue if m.id}
    untranslated = [m for m in _extracted() if m not in translated or not _filled(translated[m].string)
                    or translated[m].fuzzy]
    assert not untranslated, f"run `make messages` and translate: {sorted(map(str, untranslated))[:20]}"


def test_the_catalogue_has_no_stale_entries_and_its_placeholders_match(catalogue):
    extracted = _extracted()
    stale = [m.id for m in catalogue if m.id and m.id not in extracted]
    assert not stale, f"no longer in the code (run `make messages`): {stale[:20]}"
    assert list(catalogue.check()) == []  # every %(name)s of a msgid is in its translation, and no other


def _filled(string) -> bool:
    return all(string) if isinstance(string, tuple) else bool(string)


def _every_error_class() -> set[type[ScanPowerError]]:
    for package in (backend, billing):
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if ".migrations." not in module.name:
                importlib.import_module(module.name)
    found, todo = set(), [ScanPowerError]
    while todo:
        cls = todo.pop()
        found.add(cls)
        todo.extend(cls.__subclasses__())
    return found


def test_every_refusal_a_service_can_raise_has_its_own_words():
    missing = sorted(cls.__qualname__ for cls in _every_error_class() if cls not in REFUSALS)
    assert not missing, f"add these to backend/pages/refusals.py: {missing}"


@pytest.mark.parametrize("table, enum", [
    (display.SESSION_STATUS_TEXT, "backend.sessions.models:SessionStatus"),
    (display.STOP_REASON_TEXT, "backend.sessions.models:StopReason"),
    (display.PURPOSE_TEXT, "backend.points.models:Purpose"),
    (display.STATUS_TEXT, "backend.points.models:PointStatus"),
    (display.ALARM_TEXT, "backend.alarms.rules:AlarmKind"),
    (display.REJECTION_TEXT, "backend.meters.models:RejectionKind"),
    (display.ROLE_TEXT, "backend.users.models:Role"),
    (display.CATEGORY_TEXT, "backend.tariffs.models:TariffCategory"),
])
def test_every_state_has_plain_words(table, enum):
    module, name = enum.split(":")
    values = {member.value for member in getattr(importlib.import_module(module), name)}
    assert values <= set(table), sorted(values - set(table))


class _VisibleText(HTMLParser):
    """The text a person sees, without scripts and styles, elements marked as English on purpose (lang="en"),
    and codes marked not to be translated (translate="no")."""

    SKIP = {"script", "style", "title"}
    VOID = {"input", "br", "img", "meta", "link", "hr", "source", "circle", "rect", "line", "polyline"}

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self.stack: list[bool] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name in ("placeholder", "aria-label", "title", "alt"):
            if attributes.get(name) and not self._hidden():
                self.parts.append(attributes[name])
        if tag in self.VOID:
            return
        self.stack.append(tag in self.SKIP or attributes.get("lang") == "en" or attributes.get("translate") == "no")

    def handle_endtag(self, tag):
        if tag not in self.VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data):
        if not self._hidden():
            self.parts.append(data)

    def _hidden(self) -> bool:
        return any(self.stack)


# Symbols and names that are not English words: units, the brand in Latin letters, tariff codes, serials, and
# the names of the standards and devices an installer reads on the hardware (MQTT, DTU, DL/T 645).
ALLOWED = re.compile(r"https?://\S+|kWh|kW|Wh|A4|CSV|Excel|QR|MQTT|DTU|DL/T 645|4G|m³|\b[WVA]\b|\bSP\d+\b|\d+"
                     r"|[a-z]+(?:[-_][a-z0-9]+)+")


def english_words(html: str, data: tuple[str, ...]) -> list[str]:
    parser = _VisibleText()
    parser.feed(html)
    text = " ".join(parser.parts)
    for value in sorted(data, key=len, reverse=True):
        text = text.replace(value, " ")
    text = ALLOWED.sub(" ", text)
    return re.findall(r"[A-Za-z]{2,}", text)


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_every_refusal_says_what_to_do_next_in_both_languages(locale):
    with use_locale(locale):
        worded = {cls.__qualname__: (gettext(r.what), gettext(r.next_step)) for cls, r in REFUSALS.items()}
    without = sorted(name for name, (what, next_step) in worded.items() if not next_step.strip())
    assert not without, f"say what to do next in backend/pages/refusals.py: {without}"
    if locale == "zh_CN":  # translated, not the English id passed through
        untranslated = sorted(name for name, (what, next_step) in worded.items()
                              if not re.search(r"[\u4e00-\u9fff]", what + next_step)
                              or next_step == REFUSALS_BY_NAME[name].next_step)
        assert not untranslated, untranslated
    repeated = sorted(name for name, (what, next_step) in worded.items() if next_step == what)
    assert not repeated, repeated
