"""The Jinja2 environment of the pages, with gettext (jinja2.ext.i18n), the display filters, and `render`."""
import uuid
from pathlib import Path
from urllib.parse import quote

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader
from starlette.responses import Response

from backend.pages import display, i18n, money_words
from backend.pages.csrf import csrf_field, csrf_token
from backend.pages.flash import clear_flash, peek_flash
from backend.pages.navigation import role_home

TEMPLATES = Path(__file__).resolve().parent / "templates"

templates = Jinja2Templates(env=Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True,
                                            extensions=["jinja2.ext.i18n"]))
# Jinja fills the placeholders itself (newstyle), so it gets the catalogue's lookups without formatting.
templates.env.install_gettext_callables(
    lambda message: i18n.translations(i18n.current_locale()).gettext(message),
    lambda singular, plural, n: i18n.translations(i18n.current_locale()).ngettext(singular, plural, n),
    newstyle=True)
templates.env.filters.update(
    yuan=display.yuan, price=display.price, kwh=display.kwh, wh=display.wh, power=display.power,
    when=display.when, day=display.day, badge=display.badge, status=display.status_text,
    session_status=display.session_status, stop_reason=display.stop_reason, purpose=display.purpose,
    sentence=display.sentence, period=display.period, clock=display.clock, line_kind=display.line_kind,
    alarm_kind=display.alarm_kind, rejection_kind=display.rejection_kind, role=display.role,
    category=display.category, volts=display.volts, alarm_value=display.alarm_value, amps=display.amps,
    provider_name=money_words.provider_name,
    trail_label=money_words.trail_label, trail_where=money_words.trail_where, trail_badge=money_words.trail_badge,
    refund_state=money_words.refund_state,
)
# Each rendered money form carries its own key, so a double tap or a resend on a weak network moves money once.
templates.env.globals.update(role_home=role_home, new_request_key=lambda: uuid.uuid4().hex, csrf_field=csrf_field,
                             csrf_token=csrf_token, html_lang=lambda: i18n.HTML_LANG[i18n.current_locale()],
                             locale=i18n.current_locale, switch_to=lambda: i18n.EN if i18n.current_locale() == i18n.ZH
                             else i18n.ZH)


def language_link(request: Request, locale: str) -> str:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"/language/{locale}?next={quote(here, safe='/')}"


templates.env.globals["language_link"] = language_link


def render(request: Request, template: str, status_code: int = 200, **context) -> Response:
    """Render a page; a pending flash notice is shown once, then cleared."""
    context.setdefault("user", None)
    response = templates.TemplateResponse(request, template, {"flash": peek_flash(request), **context},
                                          status_code=status_code)
    response.headers["Content-Language"] = i18n.HTML_LANG[i18n.current_locale()]
    response.headers["Vary"] = "Accept-Language, Cookie"
    clear_flash(request, response)
    return response
