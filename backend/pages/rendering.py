"""The Jinja2 environment of the pages, with the display filters, and `render`."""
import uuid
from pathlib import Path

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from backend.pages import display
from backend.pages.csrf import csrf_field, csrf_token
from backend.pages.flash import clear_flash, peek_flash
from backend.pages.navigation import role_home

TEMPLATES = Path(__file__).resolve().parent / "templates"

templates = Jinja2Templates(directory=TEMPLATES)
templates.env.filters.update(
    yuan=display.yuan, price=display.price, kwh=display.kwh, wh=display.wh, power=display.power,
    when=display.when, badge=display.badge, session_status=display.session_status,
    stop_reason=display.stop_reason, purpose=display.purpose, sentence=display.sentence,
    period=display.period, clock=display.clock,
)
# Each rendered money form carries its own key, so a double tap or a resend on a weak network moves money once.
templates.env.globals.update(role_home=role_home, new_request_key=lambda: uuid.uuid4().hex, csrf_field=csrf_field,
                             csrf_token=csrf_token)


def render(request: Request, template: str, status_code: int = 200, **context) -> Response:
    """Render a page; a pending flash notice is shown once, then cleared."""
    context.setdefault("user", None)
    response = templates.TemplateResponse(request, template, {"flash": peek_flash(request), **context},
                                          status_code=status_code)
    clear_flash(request, response)
    return response
