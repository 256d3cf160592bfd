"""Forged requests from other sites: what the session cookie authorises needs this site's origin and its token."""
import re
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from backend.core.security import create_access_token
from backend.deps import COOKIE_NAME
from backend.pages.csrf import CSRF_COOKIE
from billing.wallet.service import wallet_balance
from tests.browser import SITE
from tests.pages.conftest import PASSWORD

EVIL = "https://evil.example"
JAR = "testserver.local"  # where http.cookiejar files cookies of the dotless host "testserver"


def _field(page_html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page_html).group(1)


@pytest.fixture
def victim(app, world):
    """A signed-in vendor's browser: both cookies, no help from the test (no default headers)."""
    with TestClient(app, base_url=SITE) as client:
        client.cookies.set(COOKIE_NAME, create_access_token(world.vendor_id, app.state.settings.jwt_secret(), 10),
                           domain=JAR)
        client.get("/me")  # the page sets the CSRF cookie, as a browser would load it first
        yield client


def test_the_login_form_carries_the_token_of_the_cookie_its_page_sets(app):
    with TestClient(app, base_url=SITE) as browser:
        page = browser.get("/login")
        cookie = page.headers["set-cookie"]
        assert cookie.startswith(f"{CSRF_COOKIE}=") and "HttpOnly" in cookie and "Secure" in cookie
        assert _field(page.text) == browser.cookies[CSRF_COOKIE]
        signed_in = browser.post("/login", data={"phone": "13800000003", "password": PASSWORD,
                                                 "csrf_token": _field(page.text)},
                                 headers={"Origin": SITE}, follow_redirects=False)
        assert signed_in.status_code == 303
        assert browser.cookies[CSRF_COOKIE] != _field(page.text)  # a new token from sign-in on


def test_the_pages_own_form_works(victim, world, db):
    form = _field(victim.get("/me").text)
    answer = victim.post("/wallet/top-up", data={"amount": "5", "next": "/me", "csrf_token": form},
                         headers={"Origin": SITE}, follow_redirects=False)
    assert answer.status_code == 303
    assert wallet_balance(db, world.vendor_id) == Decimal("55.00")


@pytest.mark.parametrize("attack, headers, with_token", [
    ("another site's form, token somehow known", {"Origin": EVIL}, True),
    ("an opaque origin (sandboxed frame, data: URL)", {"Origin": "null"}, True),
    ("a browser that says nothing of where it comes from", {}, True),
    ("a subdomain of the site", {"Origin": SITE, "Sec-Fetch-Site": "same-site"}, True),
    ("the browser says cross-site", {"Origin": SITE, "Sec-Fetch-Site": "cross-site"}, True),
    ("our origin but no token", {"Origin": SITE}, False),
    ("another site's Referer, no Origin", {"Referer": f"{EVIL}/page"}, True),
])
def test_a_forged_form_post_is_refused_and_changes_nothing(victim, world, db, attack, headers, with_token):
    data = {"amount": "20", "next": "/me"} | ({"csrf_token": victim.cookies[CSRF_COOKIE]} if with_token else {})
    answer = victim.post("/wallet/top-up", data=data, headers=headers, follow_redirects=False)
    assert answer.status_code == 403, attack
    assert "表单被拒绝" in answer.text  # a browser that names no language reads Chinese
    assert wallet_balance(db, world.vendor_id) == Decimal("50.00")


def test_a_wrong_token_is_refused(victim, world, db):
    answer = victim.post("/wallet/top-up", data={"amount": "20", "csrf_token": "x" * 43}, headers={"Origin": SITE})
    assert answer.status_code == 403 and "不是从当前显示的页面提交的" in answer.text
    assert wallet_balance(db, world.vendor_id) == Decimal("50.00")


def test_a_referer_from_the_site_stands_in_for_a_missing_origin(victim, world, db):
    answer = victim.post("/wallet/top-up", data={"amount": "5", "csrf_token": _field(victim.get("/me").text)},
                         headers={"Referer": f"{SITE}/me"}, follow_redirects=False)
    assert answer.status_code == 303


def test_a_forged_sign_out_and_a_forged_sign_in_are_refused(victim, app):
    assert victim.post("/logout", headers={"Origin": EVIL}, data={"csrf_token": victim.cookies[CSRF_COOKIE]}
                       ).status_code == 403
    assert victim.get("/me", follow_redirects=False).status_code == 200  # still signed in
    with TestClient(app, base_url=SITE) as stranger:  # logging the victim in as the attacker
        stranger.get("/login")
        forged = stranger.post("/login", data={"phone": "13800000004", "password": PASSWORD},
                               headers={"Origin": EVIL}, follow_redirects=False)
        assert forged.status_code == 403 and COOKIE_NAME not in stranger.cookies


def test_the_api_called_with_the_cookie_needs_the_same_checks(victim, app, world, db):
    body = {"amount": "1.00"}
    plain = victim.post("/api/v1/wallet/top-ups", json=body, headers={"Origin": SITE})
    assert plain.status_code == 403
    assert plain.json() == {"error": "CsrfCheckFailed", "detail": "the form carries no CSRF token"}
    token = victim.cookies[CSRF_COOKIE]
    assert victim.post("/api/v1/wallet/top-ups", json=body, headers={"Origin": EVIL, "X-CSRF-Token": token}
                       ).status_code == 403
    # As the session page's script sends it: the token from the page's meta tag, in a header.
    meta = re.search(r'name="csrf-token" content="([^"]+)"', victim.get("/me").text).group(1)
    assert victim.post("/api/v1/wallet/top-ups", json=body, headers={"Origin": SITE, "X-CSRF-Token": meta}
                       ).status_code == 201
    assert wallet_balance(db, world.vendor_id) == Decimal("51.00")
    assert 'scanpower_http_rejected_total{reason="CsrfCheckFailed"} 2' in victim.get("/metrics").text


def test_a_bearer_token_needs_no_csrf_token(app, world):
    """No browser adds an Authorization header by itself, so a bearer request cannot be forged."""
    token = create_access_token(world.vendor_id, app.state.settings.jwt_secret(), 10)
    with TestClient(app, base_url=SITE) as script:
        answer = script.post("/api/v1/wallet/top-ups", json={"amount": "1.00"},
                             headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 201
