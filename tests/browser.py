"""Test clients that post as the site's own pages do, through the CSRF checks a real browser passes."""
from http.cookies import SimpleCookie

import httpx
from fastapi.testclient import TestClient

from backend.pages.csrf import CSRF_COOKIE, CSRF_HEADER

SITE = "https://testserver"
BROWSER_CSRF_TOKEN = "t" * 43  # as if a page had set it; tests/pages/test_csrf.py shows the pages really do


def browser(app, language: str = "en") -> TestClient:
    """A client that posts as the site's own pages do: from its origin, repeating the CSRF cookie's token.

    It asks for English pages unless told otherwise; the pages' default, for a browser that asks for
    nothing, is Chinese (tests/pages/test_languages.py)."""
    client = TestClient(app, base_url=SITE, headers={"Origin": SITE, "Accept-Language": language})
    # http.cookiejar files a dotless host such as "testserver" under "testserver.local".
    client.cookies.set(CSRF_COOKIE, BROWSER_CSRF_TOKEN, domain="testserver.local")
    client.event_hooks["request"].append(_repeat_csrf_cookie)
    return client


def _repeat_csrf_cookie(request: httpx.Request) -> None:
    """As the page would: the token it was rendered with is the one in the cookie (rotated at sign-in)."""
    cookies = SimpleCookie(request.headers.get("cookie", ""))
    if CSRF_COOKIE in cookies:
        request.headers[CSRF_HEADER] = cookies[CSRF_COOKIE].value
