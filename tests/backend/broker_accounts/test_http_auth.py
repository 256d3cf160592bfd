"""BROKER_ACCOUNTS=http over real HTTP: a broker asks whether a client may log in, publish or subscribe; a closed
point's meter is refused at once (in this process) or within BROKER_AUTH_CACHE_SECONDS (another one)."""
import secrets
import time

import httpx
import pytest
from sqlalchemy import text

from backend.app import create_app
from backend.broker_accounts.broker_auth import BrokerAuth
from backend.core.db import unit_of_work
from backend.meters.orders import RecordingSink
from backend.points import service as points
from billing.payments.providers import DemoProvider
from device_gateway.protocol import Topics
from tests import factories
from tests.live_server import serve

SECRET = secrets.token_urlsafe(32)


@pytest.fixture
def http_settings(settings):
    return settings.model_copy(update={"broker_accounts": "http", "broker_auth_secret": SECRET,
                                       "mqtt_gateway_password": "gw-" + secrets.token_hex(8)})


@pytest.fixture
def broker_api(http_settings, engine):
    app = create_app(http_settings, engine, RecordingSink(), lambda: True, DemoProvider())
    with serve(app) as url, httpx.Client(base_url=f"{url}/api/v1/broker-auth",
                                         headers={"Authorization": f"Bearer {SECRET}"}) as client:
        yield client


@pytest.fixture
def two_meters(engine):
    with unit_of_work(engine, RecordingSink()) as db:
        (point, first), (_, second) = factories.active_point(db), factories.active_point(db)
    return point, first, second


def test_a_live_points_meter_logs_in_with_its_password_only(broker_api, two_meters, http_settings):
    _, meter, _ = two_meters
    ok = broker_api.post("/authenticate", json={"username": meter.serial, "password": meter.mqtt_password,
                                                "clientid": meter.serial})
    assert ok.status_code == 200 and ok.json()["result"] == "allow" and ok.json()["ok"] is True
    for username, password in [(meter.serial, "wrong"), ("SP99999999", "x"), (meter.serial, "")]:
        refused = broker_api.post("/authenticate", json={"username": username, "password": password})
        assert refused.status_code == 403 and refused.json()["result"] == "deny"
    gateway = broker_api.post("/authenticate", json={"username": http_settings.mqtt_gateway_username,
                                                     "password": http_settings.mqtt_gateway_password})
    assert gateway.json()["result"] == "allow"


def test_a_meter_may_publish_and_subscribe_only_on_its_own_topics(broker_api, two_meters, http_settings):
    _, meter, other = two_meters
    topics = Topics(http_settings.mqtt_topic_prefix)

    def allowed(username: str, topic: str, action: str) -> bool:
        answer = broker_api.post("/authorize", json={"username": username, "topic": topic, "action": action})
        assert answer.status_code in (200, 403)
        return answer.json()["result"] == "allow"

    assert allowed(meter.serial, topics.meter(meter.serial, "telemetry"), "publish")
    assert not allowed(meter.serial, topics.meter(other.serial, "telemetry"), "publish")
    assert not allowed(meter.serial, topics.command(meter.serial), "publish")
    assert allowed(meter.serial, topics.command(meter.serial), "subscribe")
    assert not allowed(meter.serial, topics.command("+"), "subscribe")
    assert not allowed(meter.serial, topics.command(other.serial), "subscribe")
    gateway = http_settings.mqtt_gateway_username
    assert allowed(gateway, f"$share/gateways/{topics.meter('+', 'telemetry')}", "subscribe")
    assert allowed(gateway, topics.command(meter.serial), "publish")


def test_a_closed_points_meter_is_refused_at_once(broker_api, two_meters, engine):
    point, meter, _ = two_meters
    login = {"username": meter.serial, "password": meter.mqtt_password}
    assert broker_api.post("/authenticate", json=login).status_code == 200  # now in the cache
    with unit_of_work(engine, RecordingSink()) as db:
        points.close_point(db, point.id)
    assert broker_api.post("/authenticate", json=login).status_code == 403
    assert broker_api.post("/authorize", json={"username": meter.serial, "action": "publish",
                                               "topic": f"x/m/{meter.serial}/telemetry"}).status_code == 403


def test_a_point_closed_by_another_process_is_refused_within_the_cache_time(engine, two_meters, http_settings):
    point, meter, _ = two_meters
    now = [100.0]
    auth = BrokerAuth(engine, http_settings, clock=lambda: now[0])
    try:
        assert auth.authenticate(meter.serial, meter.mqtt_password)
        with engine.begin() as connection:  # not through a session here: as another process would
            connection.execute(text("UPDATE metering_point SET status = 'closed' WHERE id = :id"), {"id": point.id})
        now[0] += http_settings.broker_auth_cache_seconds - 0.1
        assert auth.authenticate(meter.serial, meter.mqtt_password)  # still the cached answer
        now[0] += 0.2
        assert not auth.authenticate(meter.serial, meter.mqtt_password)
    finally:
        auth.forget_on_commit()


def test_the_broker_must_prove_itself_and_bad_input_is_refused(broker_api, two_meters):
    _, meter, _ = two_meters
    login = {"username": meter.serial, "password": meter.mqtt_password}
    for headers in ({"Authorization": ""}, {"Authorization": "Bearer wrong"}):
        refused = broker_api.post("/authenticate", json=login, headers=headers)
        assert refused.status_code == 401 and refused.json()["error"] == "NotTheBroker"
    assert broker_api.post(f"/authenticate?key={SECRET}", json=login, headers={"Authorization": ""}).status_code == 200
    bad = broker_api.post("/authorize", json={"username": meter.serial, "topic": "t", "action": "delete"})
    assert bad.status_code == 422
    assert broker_api.post("/authenticate", content=b"\xff{", headers={"Content-Type": "application/json"}
                           ).status_code in (400, 422)
    base = broker_api.base_url
    metrics = httpx.get(f"{base.scheme}://{base.host}:{base.port}/metrics").text
    assert 'scanpower_http_rejected_total{reason="NotTheBroker"} 2.0' in metrics
    assert broker_api.post("/authenticate", json=login).status_code == 200  # still serving


def test_vernemq_webhooks_get_answers_in_its_own_shape(broker_api, two_meters, http_settings):
    _, meter, other = two_meters
    topics = Topics(http_settings.mqtt_topic_prefix)
    ok = broker_api.post("/vernemq/auth_on_register", json={
        "peer_addr": "10.0.0.7", "peer_port": 41000, "username": meter.serial, "password": meter.mqtt_password,
        "mountpoint": "", "client_id": meter.serial, "clean_session": False})
    assert ok.json() == {"result": "ok"}
    wrong = broker_api.post("/vernemq/auth_on_register", json={"username": meter.serial, "password": "x",
                                                               "client_id": meter.serial})
    assert wrong.json() == {"result": {"error": "not_allowed"}}
    publish = {"username": meter.serial, "client_id": meter.serial, "mountpoint": "", "qos": 1, "retain": False,
               "payload": "e30=", "topic": topics.meter(other.serial, "telemetry")}
    assert broker_api.post("/vernemq/auth_on_publish", json=publish).json()["result"] != "ok"
    subscribe = {"username": meter.serial, "client_id": meter.serial, "mountpoint": "",
                 "topics": [{"topic": topics.command(meter.serial), "qos": 1}]}
    assert broker_api.post("/vernemq/auth_on_subscribe", json=subscribe).json() == {"result": "ok"}


def test_answers_are_fast(broker_api, two_meters, figures):
    _, meter, _ = two_meters
    login = {"username": meter.serial, "password": meter.mqtt_password}
    started = time.perf_counter()
    for _ in range(200):
        assert broker_api.post("/authenticate", json=login).status_code == 200
    each = (time.perf_counter() - started) / 200
    figures(f"200 logins asked over HTTP (one connection, cache warm): {each * 1000:.1f} ms each")
    assert each < 0.1


def test_the_routes_are_described_in_the_openapi_schema(broker_api):
    base = broker_api.base_url
    schema = httpx.get(f"{base.scheme}://{base.host}:{base.port}/openapi.json").json()
    login = schema["paths"]["/api/v1/broker-auth/authenticate"]["post"]
    assert {"200", "401", "403", "422"} <= set(login["responses"])
    assert "/api/v1/broker-auth/vernemq/auth_on_subscribe" in schema["paths"]
