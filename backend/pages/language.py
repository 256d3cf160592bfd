"""Which language a page is in: the visitor's choice (a cookie), else their browser's Accept-Language, else Chinese."""
from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from backend.pages.cookies import set_cookie
from backend.pages.i18n import DEFAULT_LOCALE, LOCALES, set_locale
from backend.pages.navigation import safe_next

LANGUAGE_COOKIE = "sp_lang"
COOKIE_AGE = 365 * 24 * 3600
router = APIRouter()


def locale_of_tag(tag: str) -> str | None:
    """The locale we have for a language tag: zh, zh-CN, zh-Hans… are Chinese; en, en-GB… English."""
    primary = tag.strip().replace("_", "-").lower().split("-")[0]
    if primary == "zh":
        return "zh_CN"
    return primary if primary in LOCALES else None


def negotiate(accept_language: str | None) -> str:
    """The best locale for an Accept-Language header, by its q-values; Chinese when none fits."""
    ranked = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        locale = locale_of_tag(tag)
        if locale and quality > 0:
            ranked.append((-quality, position, locale))
    return min(ranked)[2] if ranked else DEFAULT_LOCALE


def chosen_locale(cookie: str | None, accept_language: str | None) -> str:
    return cookie if cookie in LOCALES else negotiate(accept_language)


class LanguageMiddleware:
    """Sets the locale of every request before any route runs (pure ASGI, so the choice reaches the route)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            request = Request(scope)
            set_locale(chosen_locale(request.cookies.get(LANGUAGE_COOKIE), request.headers.get("accept-language")))
        await self.app(scope, receive, send)


@router.get("/language/{locale}")
def switch_language(locale: str, request: Request, next: str = "/"):
    """Remember the visitor's language and go back to the page they were on."""
    response = RedirectResponse(safe_next(next) or "/", status_code=303)
    if locale in LOCALES:
        settings = request.app.state.settings
        set_cookie(response, request, settings.public_base_url, LANGUAGE_COOKIE, locale, COOKIE_AGE)
    return response
