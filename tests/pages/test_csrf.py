"""Forged requests from other sites: what the session cookie authorises needs this site's origin and its token."""
import re
from decimal import Decimal

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select as select_table
from sqlmodel import Session, SQLModel

from backend.core.security import create_access_token
from backend.deps import COOKIE_NAME
from backend.app import API_PREFIX
from backend.pages.csrf import CSRF_COOKIE
from backend.pages.csrf_guard import UNSAFE_METHODS
from backend.points import service as points
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


def form_routes(app) -> list[tuple[str, str]]:
    """Every (method, path) a page form or the session cookie can change things through: all but the API's."""
    return sorted((method, path) for path, route in _routes(app) if isinstance(route, APIRoute)
                  and not path.startswith(API_PREFIX + "/") for method in route.methods & UNSAFE_METHODS)


def _routes(app):
    """(full path, route) of every route, also inside included routers (FastAPI 0.16x keeps each as one entry)."""
    for route in app.routes:
        included = getattr(route, "effective_route_contexts", None)
        if included is None:
            yield getattr(route, "path", ""), route
        else:
            yield from ((context.path, context.original_route) for context in included())


def test_the_form_routes_are_found_from_the_router(app):
    found = form_routes(app)
    assert ("POST", "/wallet/top-up") in found and ("POST", "/operator/sessions/{session_id}/refund") in found
    assert len(found) >= 15 and all(not path.startswith("/api/") for _, path in found)


@pytest.fixture
def existing(world, session_on) -> dict[str, str]:
    """A value for each path parameter that names something real, so that only the CSRF check stands in the way."""
    settled = session_on.start(world.vendor_id)
    session_on.finish(settled, 121_000)
    with Session(world.engine) as db:
        point = points.get_point(db, world.point_id)
        meter = points.meter_of_point(db, point.id)
    return {"point_id": str(point.id), "session_id": str(settled), "meter_id": str(meter.id),
            "tariff_id": str(point.tariff_id), "token": world.tokens[1]}


def everything(engine) -> dict[str, list]:
    """Every row of every table: what a refused request must leave exactly as it was."""
    with Session(engine) as db:
        return {table.name: sorted(map(tuple, db.execute(select_table(table)).all()), key=repr)
                for table in SQLModel.metadata.sorted_tables}


FORGERIES = [("another site, the token somehow known", {"Origin": EVIL}, True),
             ("this site's origin, no token", {"Origin": SITE}, False),
             ("no Origin, another site's Referer", {"Referer": f"{EVIL}/x"}, True)]


@pytest.mark.parametrize("role", ["operator_id", "vendor_id", "applicant_id"])
def test_every_form_route_refuses_a_forged_request_and_changes_nothing(app, world, existing, role, figures):
    routes = form_routes(app)
    with TestClient(app, base_url=SITE) as victim:
        victim.cookies.set(COOKIE_NAME, create_access_token(getattr(world, role), app.state.settings.jwt_secret(),
                                                            10), domain=JAR)
        victim.get("/")  # the CSRF cookie, as a browser has it after loading any page
        token = victim.cookies[CSRF_COOKIE]
        before = everything(world.engine)
        for method, template in routes:
            missing = set(re.findall(r"{(\w+)}", template)) - set(existing)
            assert not missing, f"{template}: give the `existing` fixture a value for {missing}"
            path = template.format(**existing)
            for attack, headers, with_token in FORGERIES:
                data = {"csrf_token": token} if with_token else {}
                answer = victim.request(method, path, data=data, headers=headers, follow_redirects=False)
                assert answer.status_code == 403 and "表单被拒绝" in answer.text, (method, path, attack)
        assert everything(world.engine) == before
        refused = len(routes) * len(FORGERIES)
        assert f'scanpower_http_rejected_total{{reason="CsrfCheckFailed"}} {refused}' in victim.get("/metrics").text
    figures(f"{len(routes)} form routes × {len(FORGERIES)} forgeries with the cookie of the {role.removesuffix('_id')}:"
            f" {refused} × 403, every table unchanged")


def test_every_form_route_lets_the_pages_own_request_past_the_check(app, world, existing):
    for method, template in form_routes(app):
        with TestClient(app, base_url=SITE) as browser:  # a fresh one each time: sign-out drops the cookies
            browser.cookies.set(COOKIE_NAME, create_access_token(world.operator_id, app.state.settings.jwt_secret(),
                                                                 10), domain=JAR)
            browser.get("/")
            answer = browser.request(method, template.format(**existing), headers={"Origin": SITE},
                                     data={"csrf_token": browser.cookies[CSRF_COOKIE]}, follow_redirects=False)
        assert "表单被拒绝" not in answer.text, (method, template)  # whatever the route itself then says
