from datetime import timedelta
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from backend.app import create_app
from backend.core.clock import local_today
from backend.meters.orders import RecordingSink
from backend.points import service as points
from backend.users.models import Role
from tests import factories


@pytest.fixture
def sink():
    return RecordingSink()


@pytest.fixture
def client(settings, engine, sink):
    with TestClient(create_app(settings, engine, sink, lambda: True)) as http:
        yield http


@pytest.fixture
def scene(engine):
    with Session(engine, expire_on_commit=False) as db:
        point, meter = factories.active_point(db)
        outlets = points.outlets_of_point(db, point.id)
        rich = factories.user(db, Role.vendor, Decimal("30.00"))
        poor = factories.user(db, Role.vendor, Decimal("0.20"))
        operator = factories.user(db, Role.operator)
        applicant = db.get(type(rich), point.applicant_id)
        db.commit()
    return dict(point=point, outlets=outlets, rich=rich, poor=poor, operator=operator, applicant=applicant)


def auth(client, user) -> dict:
    answer = client.post("/api/v1/auth/token", data={"username": user.phone, "password": "password-123"})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def test_bad_fields_get_422_naming_each_field(client):
    answer = client.post("/api/v1/auth/signup", json={"phone": "abc", "password": "short"})
    assert answer.status_code == 422
    body = answer.json()
    assert body["error"] == "ValidationError"
    assert {p["field"] for p in body["detail"]} == {"phone", "password"}
    assert 'scanpower_http_rejected_total{reason="ValidationError"} 1' in client.get("/metrics").text


def test_sign_up_cannot_make_an_operator(client):
    answer = client.post("/api/v1/auth/signup",
                         json={"phone": "13611112222", "password": "long-enough", "role": "operator"})
    assert answer.status_code == 422
    assert "operators are created by an operator" in answer.text


def test_wrong_password_is_401(client, scene):
    answer = client.post("/api/v1/auth/token", data={"username": scene["rich"].phone, "password": "nope-nope"})
    assert answer.status_code == 401
    assert answer.json() == {"error": "WrongCredentials", "detail": "wrong phone number or password"}


def test_start_on_a_busy_outlet_is_409_with_the_reason(client, scene, sink):
    token = scene["outlets"][0].qr_token
    first = client.post("/api/v1/sessions", json={"outlet_token": token}, headers=auth(client, scene["rich"]))
    assert first.status_code == 201
    assert [o.action for o in sink.sent] == ["close"]
    other = factories_vendor(client)
    second = client.post("/api/v1/sessions", json={"outlet_token": token}, headers=other)
    assert second.status_code == 409
    assert second.json()["error"] == "OutletBusy"


def factories_vendor(client) -> dict:
    client.post("/api/v1/auth/signup", json={"phone": "13699998888", "password": "vendor-pass"})
    token = client.post("/api/v1/auth/token", data={"username": "13699998888", "password": "vendor-pass"})
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    client.post("/api/v1/wallet/top-ups", json={"amount": "10.00"}, headers=headers)
    return headers


def test_start_with_too_little_balance_is_409(client, scene):
    answer = client.post("/api/v1/sessions", json={"outlet_token": scene["outlets"][0].qr_token},
                         headers=auth(client, scene["poor"]))
    assert answer.status_code == 409
    assert answer.json()["error"] == "InsufficientBalance"
    assert "0.20" in answer.json()["detail"]


def test_start_on_a_closed_point_is_409(client, scene):
    operator = auth(client, scene["operator"])
    assert client.post(f"/api/v1/points/{scene['point'].id}/close", headers=operator).status_code == 200
    answer = client.post("/api/v1/sessions", json={"outlet_token": scene["outlets"][0].qr_token},
                         headers=auth(client, scene["rich"]))
    assert answer.status_code == 409
    assert answer.json() == {"error": "PointNotServing",
                             "detail": f"metering point {scene['point'].name!r} is closed, not active"}


def test_a_vendor_cannot_see_or_stop_another_vendors_session(client, scene):
    started = client.post("/api/v1/sessions", json={"outlet_token": scene["outlets"][0].qr_token},
                          headers=auth(client, scene["rich"])).json()
    other = auth(client, scene["poor"])
    assert client.get(f"/api/v1/sessions/{started['id']}", headers=other).status_code == 404
    assert client.post(f"/api/v1/sessions/{started['id']}/stop", headers=other).status_code == 404
    assert client.get("/api/v1/sessions", headers=other).json()["count"] == 0


def test_applicants_see_only_their_points_and_cannot_approve(client, scene):
    applicant = auth(client, scene["applicant"])
    assert client.get("/api/v1/points", headers=applicant).json()["count"] == 1
    stranger = factories_applicant(client)
    assert client.get("/api/v1/points", headers=stranger).json()["count"] == 0
    assert client.get(f"/api/v1/points/{scene['point'].id}", headers=stranger).status_code == 404
    assert client.post(f"/api/v1/points/{scene['point'].id}/approve", json={"tariff_id": 1},
                       headers=applicant).status_code == 403


def factories_applicant(client) -> dict:
    client.post("/api/v1/auth/signup", json={"phone": "13677776666", "password": "applicant-pass",
                                             "role": "applicant"})
    token = client.post("/api/v1/auth/token", data={"username": "13677776666", "password": "applicant-pass"})
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def test_application_approval_provisions_meter_outlets_and_qr_codes(client, scene):
    applicant = factories_applicant(client)
    body = {"name": "Tea roasting yard", "address": "Maojia village", "latitude": 31.2, "longitude": 119.4,
            "purpose": "tea_processing", "capacity_kw": "15", "outlet_count": 3,
            "valid_from": str(local_today()), "valid_until": str(local_today() + timedelta(days=60))}
    created = client.post("/api/v1/points", json=body, headers=applicant)
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "submitted"
    operator = auth(client, scene["operator"])
    point_id = created.json()["id"]
    approved = client.post(f"/api/v1/points/{point_id}/approve", json={"tariff_id": 2}, headers=operator)
    assert approved.json()["status"] == "approved"
    outlets = client.get(f"/api/v1/points/{point_id}/outlets", headers=applicant).json()
    assert [o["channel"] for o in outlets] == [1, 2, 3]
    token = outlets[0]["qr_url"].rsplit("/", 1)[1]
    assert len(token) >= 24  # 144 random bits, nothing derived from ids
    png = client.get(f"/api/v1/outlets/{token}/qr.png", headers=applicant)
    assert png.headers["content-type"] == "image/png" and png.content.startswith(b"\x89PNG")
    svg = client.get(f"/api/v1/outlets/{token}/qr.svg", headers=applicant)
    assert b"<svg" in svg.content
    again = client.post(f"/api/v1/points/{point_id}/approve", json={"tariff_id": 2}, headers=operator)
    assert again.status_code == 409


def test_a_validity_longer_than_six_months_is_refused(client):
    applicant = factories_applicant(client)
    body = {"name": "x", "address": "y", "latitude": 31.2, "longitude": 119.4, "purpose": "other",
            "capacity_kw": "5", "outlet_count": 1, "valid_from": "2026-01-01", "valid_until": "2026-12-31"}
    answer = client.post("/api/v1/points", json=body, headers=applicant)
    assert answer.status_code == 422
    assert "at most 184 days" in answer.text


def test_no_token_is_401_for_the_api(client):
    answer = client.get("/api/v1/sessions")
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"


def test_an_application_whose_validity_already_ended_is_refused(client):
    applicant = factories_applicant(client)
    body = {"name": "x", "address": "y", "latitude": 31.2, "longitude": 119.4, "purpose": "other",
            "capacity_kw": "5", "outlet_count": 1, "valid_from": "2020-01-01", "valid_until": "2020-02-01"}
    answer = client.post("/api/v1/points", json=body, headers=applicant)
    assert answer.status_code == 422
    assert answer.json()["error"] == "ValidityInThePast"


@pytest.mark.parametrize("path", ["/api/v1/sessions/99999999999999999999999", "/api/v1/points/0",
                                  "/api/v1/points/99999999999999999999/outlets"])
def test_ids_that_cannot_exist_are_refused_not_crashed_on(client, scene, path):
    answer = client.get(path, headers=auth(client, scene["operator"]))
    assert answer.status_code == 422


def test_operators_can_read_a_meters_credentials_and_nobody_else(client, scene):
    path = f"/api/v1/points/{scene['point'].id}/meter/credentials"
    credentials = client.get(path, headers=auth(client, scene["operator"])).json()
    assert credentials["mqtt_username"] == credentials["serial"] and len(credentials["mqtt_password"]) >= 24
    assert client.get(path, headers=auth(client, scene["applicant"])).status_code == 403


def test_withdrawal_sends_back_only_what_open_sessions_do_not_reserve(client, scene):
    vendor = auth(client, scene["rich"])
    assert client.post("/api/v1/wallet/withdrawals", json={"amount": "10.00"}, headers=vendor).json()["balance"] \
        == "20.00"
    client.post("/api/v1/sessions", json={"outlet_token": scene["outlets"][0].qr_token}, headers=vendor)
    refused = client.post("/api/v1/wallet/withdrawals", json={}, headers=vendor)
    assert refused.status_code == 409 and "¥0.00 is free" in refused.json()["detail"]
