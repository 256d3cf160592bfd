"""CSRF protection for whatever the session cookie authorises: the pages' forms and the API called with the cookie.

An unsafe request (POST, PUT, PATCH, DELETE) that the cookie could authorise must pass two checks:
- it comes from this site: Sec-Fetch-Site is not cross-site or same-site, and Origin (or, when a browser
  sends none, Referer) is this site's origin;
- it repeats the token of the `sp_csrf` cookie, in the form's hidden `csrf_token` field or, from the
  site's own scripts, in the X-CSRF-Token header.
API requests with a bearer token or without the session cookie are not checked: a browser adds neither
by itself. The sign-in and sign-up endpoints of the API never read the cookie and are not checked either.
"""
import re
import secrets
from urllib.parse import urlsplit

from jinja2 import pass_context
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response

from backend.pages.cookies import set_cookie

CSRF_COOKIE = "sp_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
COOKIE_AGE = 365 * 24 * 3600
_WELL_FORMED = re.compile(r"[A-Za-z0-9_-]{43}")


def new_token() -> str:
    return secrets.token_urlsafe(32)


class CsrfToken:
    """This request's token: the cookie's, or a new one, set as the cookie once a page has used it."""

    def __init__(self, from_cookie: str | None):
        self._value = from_cookie if from_cookie and _WELL_FORMED.fullmatch(from_cookie) else None
        self.issued = False

    @property
    def value(self) -> str:
        if self._value is None:
            self._value, self.issued = new_token(), True
        return self._value

    def matches(self, submitted: str | None) -> bool:
        return (self._value is not None and submitted is not None
                and secrets.compare_digest(submitted.encode(), self._value.encode()))


def foreign_origin(headers, own_origins: set[str]) -> str | None:
    """Why the request does not come from one of `own_origins`, or None when it does."""
    if headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return "the request comes from another site"
    origin = headers.get("origin") or origin_of(headers.get("referer"))
    if not origin:
        return "the request does not say which page sent it (no Origin or Referer header)"
    if origin not in own_origins:
        return "the request comes from another site"
    return None


def origin_of(url: str | None) -> str | None:
    parts = urlsplit(url or "")
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


@pass_context
def csrf_field(context) -> Markup:
    """The hidden form field carrying the token (a template global)."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, csrf_token(context))


@pass_context
def csrf_token(context) -> str:
    """The token itself, for the site's scripts (a template global)."""
    return context["request"].state.csrf.value


def rotate(response: Response, request: Request, public_base_url: str) -> None:
    """A new token at sign-in, so a token planted before it is worth nothing after."""
    set_cookie(response, request, public_base_url, CSRF_COOKIE, new_token(), COOKIE_AGE)


def forget(response: Response) -> None:
    response.delete_cookie(CSRF_COOKIE, path="/")
