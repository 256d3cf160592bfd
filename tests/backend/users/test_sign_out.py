"""Signing out revokes the token: a copy kept by anyone is refused by the API and the pages alike."""
from datetime import timedelta

import jwt
from sqlmodel import Session, select

from backend.core.clock import utcnow
from backend.core.security import create_access_token
from backend.deps import COOKIE_NAME
from backend.users.models import AttemptCounter, RevokedToken
from backend.users.service import SignInLimits, forget_stale_sign_in_records
from tests.backend.users.conftest import sign_in


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_api_sign_out_revokes_the_presented_token(client, vendor):
    token = sign_in(client, vendor.phone).json()["access_token"]
    other = sign_in(client, vendor.phone).json()["access_token"]  # another device of the same person
    assert client.get("/api/v1/users/me", headers=_bearer(token)).status_code == 200

    assert client.post("/api/v1/auth/logout", headers=_bearer(token)).status_code == 204
    refused = client.get("/api/v1/users/me", headers=_bearer(token))
    assert refused.status_code == 401 and refused.json()["error"] == "NotAuthenticated"
    assert client.post("/api/v1/auth/logout", headers=_bearer(token)).status_code == 401
    assert client.get("/api/v1/users/me", headers=_bearer(other)).status_code == 200


def test_a_token_revoked_through_the_api_is_refused_by_the_pages(client, vendor):
    token = sign_in(client, vendor.phone).json()["access_token"]
    client.cookies.set(COOKIE_NAME, token)
    assert client.get("/me", follow_redirects=False).status_code == 200
    client.post("/api/v1/auth/logout", headers=_bearer(token))
    assert client.get("/me", follow_redirects=False).headers["location"] == "/login?next=/me"


def test_a_cookie_copied_before_the_page_sign_out_is_refused_after_it(client, vendor, settings):
    login_page = client.get("/login")
    assert login_page.status_code == 200
    site = {"Origin": str(client.base_url).rstrip("/")}
    field = login_page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    signed_in = client.post("/login", data={"phone": vendor.phone, "password": "password-123", "csrf_token": field},
                            headers=site, follow_redirects=False)
    assert signed_in.status_code == 303
    copied = client.cookies[COOKIE_NAME]
    field = client.get("/me").text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]  # rotated at sign-in
    assert client.post("/logout", data={"csrf_token": field}, headers=site, follow_redirects=False).status_code == 303
    assert COOKIE_NAME not in client.cookies

    client.cookies.set(COOKIE_NAME, copied)
    assert client.get("/me", follow_redirects=False).headers["location"] == "/login?next=/me"
    assert client.get("/api/v1/users/me", headers=_bearer(copied)).status_code == 401


def test_tokens_without_an_id_are_refused(client, vendor, settings):
    """Tokens issued before revocation existed cannot be revoked, so they no longer count."""
    old = jwt.encode({"sub": str(vendor.id), "exp": utcnow() + timedelta(minutes=5)}, settings.jwt_secret(), "HS256")
    assert client.get("/api/v1/users/me", headers=_bearer(old)).status_code == 401
    fresh = create_access_token(vendor.id, settings.jwt_secret(), 5)
    assert client.get("/api/v1/users/me", headers=_bearer(fresh)).status_code == 200


def test_revocations_and_counters_are_forgotten_once_they_no_longer_matter(client, vendor, settings, engine, clock):
    token = sign_in(client, vendor.phone).json()["access_token"]  # leaves the client's counter (at 0)
    client.post("/api/v1/auth/logout", headers=_bearer(token))
    limits = SignInLimits.of(settings)
    with Session(engine) as db:
        assert forget_stale_sign_in_records(db, clock.now, limits) == 0
        clock.advance(minutes=settings.access_token_minutes + 1)
        assert forget_stale_sign_in_records(db, clock.now, limits) == 2
        db.commit()
        assert db.exec(select(RevokedToken)).all() == db.exec(select(AttemptCounter)).all() == []
