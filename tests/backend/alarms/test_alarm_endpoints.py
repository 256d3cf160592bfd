"""Who may read alarms and reliability figures over the API."""
from datetime import datetime, time, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from backend.alarms import endpoints, service
from backend.app import API_PREFIX, create_app
from backend.core.clock import LOCAL_TZ, local_today
from backend.meters.orders import RecordingSink
from backend.users.models import Role, User
from tests import factories

# Yesterday, local midnight: the factories' points are valid from then.
DAY = datetime.combine(local_today() - timedelta(days=1), time(0), LOCAL_TZ)
T0 = DAY + timedelta(hours=8)


@pytest.fixture
def client(settings, engine):
    app = create_app(settings, engine, RecordingSink(), lambda: True)
    app.include_router(endpoints.router, prefix=API_PREFIX)
    with TestClient(app) as http:
        yield http


@pytest.fixture
def scene(engine):
    with Session(engine, expire_on_commit=False) as db:
        point, meter = factories.active_point(db)
        other_point, _ = factories.active_point(db)
        service.supply_lost(db, meter, T0)
        service.supply_restored(db, meter, T0 + timedelta(hours=2))
        service.supply_lost(db, meter, T0 + timedelta(hours=5))
        people = dict(operator=factories.user(db, Role.operator), vendor=factories.user(db, Role.vendor),
                      applicant=db.get(User, point.applicant_id), stranger=db.get(User, other_point.applicant_id))
        db.commit()
    return dict(point=point, other_point=other_point, **people)


def auth(client, user) -> dict:
    answer = client.post("/api/v1/auth/token", data={"username": user.phone, "password": "password-123"})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def test_operators_list_open_alarms(client, scene):
    answer = client.get("/api/v1/alarms", params={"open_only": True}, headers=auth(client, scene["operator"]))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["count"] == 1
    (alarm,) = body["data"]
    assert (alarm["kind"], alarm["point_id"], alarm["channel"], alarm["closed_at"]) == (
        "supply_lost", scene["point"].id, None, None)


def test_operators_list_all_alarms_newest_first(client, scene):
    body = client.get("/api/v1/alarms", headers=auth(client, scene["operator"])).json()
    assert body["count"] == 2 and body["data"][0]["closed_at"] is None


@pytest.mark.parametrize("who", ["applicant", "vendor"])
def test_only_operators_list_every_alarm(client, scene, who):
    answer = client.get("/api/v1/alarms", headers=auth(client, scene[who]))
    assert answer.status_code == 403 and answer.json()["error"] == "Forbidden"


def test_signed_out_gets_401(client, scene):
    assert client.get("/api/v1/alarms").status_code == 401
    assert client.get(f"/api/v1/points/{scene['point'].id}/alarms").status_code == 401


@pytest.mark.parametrize("who", ["applicant", "operator"])
def test_the_points_applicant_and_operators_see_its_alarms(client, scene, who):
    answer = client.get(f"/api/v1/points/{scene['point'].id}/alarms", headers=auth(client, scene[who]))
    assert answer.status_code == 200 and answer.json()["count"] == 2


def test_another_applicant_cannot_see_the_points_alarms(client, scene):
    answer = client.get(f"/api/v1/points/{scene['point'].id}/alarms", headers=auth(client, scene["stranger"]))
    assert answer.status_code == 404
    own = client.get(f"/api/v1/points/{scene['other_point'].id}/alarms", headers=auth(client, scene["stranger"]))
    assert own.status_code == 200 and own.json()["count"] == 0


def test_operators_read_reliability_of_a_period(client, scene):
    params = {"start": DAY.isoformat(), "end": (DAY + timedelta(days=1)).isoformat()}
    answer = client.get("/api/v1/reliability", params=params, headers=auth(client, scene["operator"]))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    figures = {p["point_id"]: p["outage_hours"] for p in body["per_point"]}
    assert figures == {scene["point"].id: 2 + 11, scene["other_point"].id: 0}  # the open one runs to the end
    assert body["points"] == 2 and body["average_outage_hours"] == 6.5


def test_reliability_is_for_operators_and_needs_a_forward_period(client, scene):
    params = {"start": "2026-06-02T00:00:00+08:00", "end": "2026-06-01T00:00:00+08:00"}
    applicant = client.get("/api/v1/reliability", params=params, headers=auth(client, scene["applicant"]))
    assert applicant.status_code == 403
    backwards = client.get("/api/v1/reliability", params=params, headers=auth(client, scene["operator"]))
    assert backwards.status_code == 422 and backwards.json()["error"] == "InvalidPeriod"


def test_the_operator_fragment_lists_open_alarms(engine, scene):
    from backend.pages.rendering import templates
    with Session(engine) as db:
        html = templates.env.get_template("_alarms.html").render(
            alarms=service.open_alarms(db), point_names={scene["point"].id: "Tea village"})
    assert "Tea village" in html and "停电" in html and "当前告警" in html  # Chinese: the pages' default
