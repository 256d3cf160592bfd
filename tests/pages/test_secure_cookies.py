"""Cookies are Secure whenever the site is https: served over it, public at an https address, or behind a trusted proxy.

X-Forwarded-Proto and X-Forwarded-For are believed only from TRUSTED_PROXIES; from anyone else they
could fake https or, worse, a fresh client address for every guess.
"""
import re

import pytest
from fastapi.testclient import TestClient

from backend.app import create_app
from backend.core.config import Settings
from backend.deps import COOKIE_NAME
from backend.pages.csrf import CSRF_COOKIE
from billing.payments.providers import DemoProvider
from tests.pages.conftest import PASSWORD

PROXY = "10.0.0.5"


def _app(world, public_base_url: str, trusted_proxies: str = ""):
    settings = Settings(database_url=world.engine.url.render_as_string(hide_password=False),
                        secret_key="pages-test-secret-of-at-least-32-bytes",
                        public_base_url=public_base_url, trusted_proxies=trusted_proxies)
    return create_app(settings, world.engine, world.sink, lambda: True, DemoProvider())


def _sign_in(client: TestClient, origin: str, headers: dict | None = None, password: str = PASSWORD):
    """Load the login page and post its form, as a browser on `origin` would; the cookies set, by name."""
    page = client.get("/login", headers=headers)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    # By hand: the browser is on https even where the test client, in front of the proxy, is not.
    cookie = {"Cookie": f"{CSRF_COOKIE}={token}"}
    answer = client.post("/login", data={"phone": "13800000003", "password": password, "csrf_token": token},
                         headers={"Origin": origin} | (headers or {}) | cookie, follow_redirects=False)
    return answer, _by_name(page) | _by_name(answer)


def _by_name(response) -> dict[str, str]:
    return {c.split("=", 1)[0]: c for c in response.headers.get_list("set-cookie")}


def _guess(client: TestClient, forwarded_for: str, number: str) -> int:
    """One wrong password for `number`, from the login form, claiming to come from `forwarded_for`."""
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    return client.post("/login", data={"phone": number, "password": "wrong-guess", "csrf_token": token},
                       headers={"Origin": "http://testserver", "X-Forwarded-For": forwarded_for}).status_code


@pytest.mark.parametrize("public, served_at, secure", [
    ("http://power.example.cn", "https://testserver", True),   # TLS ends at the app itself
    ("https://testserver", "http://testserver", True),          # the public address is https
    ("http://127.0.0.1:8000", "http://testserver", False),      # a plain-http demo: Secure would lose the cookie
])
def test_cookies_are_secure_when_the_site_is_https(world, public, served_at, secure):
    with TestClient(_app(world, public), base_url=served_at) as client:
        answer, cookies = _sign_in(client, served_at)
    assert answer.status_code == 303
    for name in (COOKIE_NAME, CSRF_COOKIE):
        assert ("Secure" in cookies[name]) is secure, name
        assert "HttpOnly" in cookies[name] and "SameSite=lax" in cookies[name]


def test_behind_a_trusted_proxy_https_makes_the_cookies_secure(world):
    app = _app(world, "http://127.0.0.1:8000", trusted_proxies=PROXY)
    with TestClient(app, base_url="http://testserver", client=(PROXY, 40000)) as client:
        answer, cookies = _sign_in(client, "https://testserver", {"X-Forwarded-Proto": "https"})
    assert answer.status_code == 303
    assert "Secure" in cookies[COOKIE_NAME] and "Secure" in cookies[CSRF_COOKIE]


def test_forwarded_headers_from_an_untrusted_peer_are_ignored(world):
    app = _app(world, "http://127.0.0.1:8000")  # no TRUSTED_PROXIES
    app.state.settings.sign_in_failures_per_client = 3
    with TestClient(app, base_url="http://testserver", client=("198.51.100.1", 40000)) as client:
        answer, cookies = _sign_in(client, "http://testserver", {"X-Forwarded-Proto": "https"})
        assert answer.status_code == 303 and "Secure" not in cookies[COOKIE_NAME]
        # A fresh X-Forwarded-For for every guess does not escape the per-client limit.
        guesses = [_guess(client, f"192.0.2.{n}", f"1390000000{n}") for n in range(4)]
    assert guesses == [401, 401, 401, 429]



def test_a_trusted_proxy_passes_on_each_clients_own_address(world):
    app = _app(world, "http://127.0.0.1:8000", trusted_proxies=PROXY)
    app.state.settings.sign_in_failures_per_client = 3
    with TestClient(app, base_url="http://testserver", client=(PROXY, 40000)) as proxy:
        assert [_guess(proxy, "203.0.113.1", f"1390000000{n}") for n in range(4)] == [401, 401, 401, 429]
        assert _guess(proxy, "203.0.113.2", "13900000009") == 401  # another client behind the same proxy
