"""Commissioning DL/T 645 meters behind a DTU: an operator's API route, validated at the boundary, in the audit log."""
from decimal import Decimal

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from backend.audit.models import AuditEntry
from backend.dtu import service
from backend.dtu.models import DtuCommission
from backend.points import service as points
from backend.sessions import service as sessions
from backend.users.models import Role
from scanpower.cli import app as cli
from tests import factories

BODY = {"dtu_id": "DTU-G780-0001", "channels": [{"channel": 1, "address": "000000001234"},
                                                 {"channel": 2, "address": "000000001235", "password": "04abcdef",
                                                  "operator_code": "0a0b0c0d"}]}


@pytest.fixture
def scene(db):
    point, meter = factories.active_point(db, outlets=2)
    operator = factories.user(db, Role.operator)
    db.commit()
    return point, meter, operator


def test_an_operator_commissions_a_dtu_and_sees_what_the_installer_configures(api_client, bearer, scene, db, settings):
    point, meter, operator = scene
    answer = api_client.put(f"/api/v1/points/{point.id}/meter/dtu", json=BODY, headers=bearer(operator))
    assert answer.status_code == 200, answer.text
    sheet = answer.json()
    assert sheet["meter_serial"] == meter.serial and sheet["mqtt_username"] == "DTU-G780-0001"
    assert sheet["topic_up"] == f"{settings.mqtt_topic_prefix}/dtu/DTU-G780-0001/up"
    assert sheet["registration_packet"] == "REG:DTU-G780-0001" and sheet["heartbeat_packet"] == "HB:DTU-G780-0001"
    assert [(c["channel"], c["address"], c["password_level"]) for c in sheet["channels"]] == [
        (1, "000000001234", "02"), (2, "000000001235", "04")]
    assert api_client.get(f"/api/v1/points/{point.id}/meter/dtu", headers=bearer(operator)).json() == sheet
    db.expire_all()
    assert [(o.register_step_wh, o.register_rollover_wh) for o in points.outlets_of_point(db, point.id)] == [
        (10, 1_000_000_000)] * 2
    [channel_2] = [c for c in service.channels_of(db, meter.id) if c.channel == 2]
    assert (channel_2.password, channel_2.operator_code) == ("04ABCDEF", "0A0B0C0D")
    entry = db.exec(select(AuditEntry).where(AuditEntry.action == "meter.dtu_commissioned")).one()
    assert entry.actor_id == operator.id and "ABCDEF" not in (entry.after or "")


@pytest.mark.parametrize("change, field", [
    ({"dtu_id": "bad/id"}, "dtu_id"),
    ({"channels": [{"channel": 1, "address": "12345"}]}, "address"),
    ({"channels": [{"channel": 1, "address": "000000001234", "password": "0200000g"}]}, "password"),
    ({"channels": [{"channel": 1, "address": "000000001234", "password": "98000000"}]}, "password"),
    ({"channels": [{"channel": 1, "address": "000000001234", "operator_code": "123"}]}, "operator_code"),
    ({"channels": [{"channel": 1, "address": "000000001234"}, {"channel": 1, "address": "000000001235"}]}, "channel"),
    ({"channels": [{"channel": 33, "address": "000000001234"}]}, "channel"),
])
def test_bad_commissioning_is_refused_with_the_field_named(api_client, bearer, scene, change, field):
    point, _, operator = scene
    answer = api_client.put(f"/api/v1/points/{point.id}/meter/dtu", json=BODY | change, headers=bearer(operator))
    assert answer.status_code == 422, answer.text
    assert field in answer.text


def test_an_outlet_the_point_lacks_is_refused(api_client, bearer, scene):
    point, _, operator = scene
    body = BODY | {"channels": [{"channel": 3, "address": "000000001234"}]}
    answer = api_client.put(f"/api/v1/points/{point.id}/meter/dtu", json=body, headers=bearer(operator))
    assert (answer.status_code, answer.json()["error"]) == (422, "NoSuchOutlet")


def test_a_dtu_serves_one_meter_and_is_not_named_like_a_meter(api_client, bearer, scene, db):
    point, meter, operator = scene
    other, _ = factories.active_point(db, outlets=1)
    db.commit()
    first = api_client.put(f"/api/v1/points/{point.id}/meter/dtu", json=BODY, headers=bearer(operator))
    assert first.status_code == 200
    taken = BODY | {"channels": [{"channel": 1, "address": "000000009999"}]}
    answer = api_client.put(f"/api/v1/points/{other.id}/meter/dtu", json=taken, headers=bearer(operator))
    assert (answer.status_code, answer.json()["error"]) == (409, "DtuTaken")
    named = taken | {"dtu_id": meter.serial}
    answer = api_client.put(f"/api/v1/points/{other.id}/meter/dtu", json=named, headers=bearer(operator))
    assert (answer.status_code, answer.json()["error"]) == (409, "DtuTaken")


def test_the_mapping_cannot_change_under_a_running_session(api_client, bearer, scene, db):
    point, _, operator = scene
    vendor = factories.user(db, Role.vendor, Decimal("10.00"))
    sessions.start_session(db, vendor, points.outlets_of_point(db, point.id)[0].qr_token, Decimal("1.00"), 30)
    db.commit()
    answer = api_client.put(f"/api/v1/points/{point.id}/meter/dtu", json=BODY, headers=bearer(operator))
    assert (answer.status_code, answer.json()["error"]) == (409, "MeterInUse")


def test_only_operators_commission(api_client, bearer, scene, db):
    point, _, _ = scene
    applicant = factories.user(db, Role.applicant)
    db.commit()
    assert api_client.put(f"/api/v1/points/{point.id}/meter/dtu", json=BODY,
                          headers=bearer(applicant)).status_code == 403
    assert api_client.get(f"/api/v1/points/{point.id}/meter/dtu", headers=bearer(applicant)).status_code == 403


def test_a_meter_without_a_dtu_has_no_link(api_client, bearer, scene):
    point, _, operator = scene
    answer = api_client.get(f"/api/v1/points/{point.id}/meter/dtu", headers=bearer(operator))
    assert (answer.status_code, answer.json()["error"]) == (404, "NoDtuLink")


def test_the_cli_commissions_too(scene, db, database_url, monkeypatch):
    point, meter, _ = scene
    monkeypatch.setenv("DATABASE_URL", database_url)
    from backend.core.config import get_settings
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["commission-dtu", str(point.id), "DTU-9", "--channel", "1=000000000001",
                                          "--channel", "2=000000000002"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    db.expire_all()
    assert [c.address for c in service.channels_of(db, meter.id)] == ["000000000001", "000000000002"]
    bad = CliRunner().invoke(cli, ["commission-dtu", str(point.id), "DTU-9", "--channel", "1=12"])
    assert bad.exit_code == 2


def test_commissioning_the_same_dtu_again_replaces_its_channels(db, scene):
    point, meter, operator = scene
    service.commission(db, point.id, DtuCommission.model_validate(BODY), operator)
    again = BODY | {"channels": [{"channel": 2, "address": "000000007777"}]}
    link = service.commission(db, point.id, DtuCommission.model_validate(again), operator)
    assert [(c.channel, c.address) for c in service.channels_of(db, meter.id)] == [(2, "000000007777")]
    assert [o.register_step_wh for o in points.outlets_of_point(db, point.id)] == [1, 10]
    assert service.dtus_for_broker(db) == [("DTU-G780-0001", link.mqtt_password)]


def test_broker_config_lets_each_commissioned_dtu_and_the_bridge_log_in(scene, db, database_url, monkeypatch,
                                                                       tmp_path):
    point, _, operator = scene
    link = service.commission(db, point.id, DtuCommission.model_validate(BODY), operator)
    db.commit()
    for name, value in {"DATABASE_URL": database_url, "MQTT_GATEWAY_PASSWORD": "gw-secret",
                        "MQTT_API_PASSWORD": "api-secret", "MQTT_DLT645_PASSWORD": "bridge-secret"}.items():
        monkeypatch.setenv(name, value)
    from backend.core.config import get_settings
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["broker-config", "--out", str(tmp_path)])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "1 DTUs" in result.output
    users = [line.split(":", 1)[0] for line in (tmp_path / "passwd").read_text().splitlines()]
    assert link.dtu_id in users and "scanpower-dlt645" in users
    acl = (tmp_path / "acl").read_text()
    assert "pattern write scanpower/v1/dtu/%u/up" in acl and "pattern read scanpower/v1/dtu/%u/down" in acl
    assert "user scanpower-dlt645\ntopic read scanpower/v1/dtu/+/up\ntopic write scanpower/v1/dtu/+/down" in acl
