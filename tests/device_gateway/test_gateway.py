import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlmodel import Session, func, select

from backend.meters.models import QuarantineEntry, Reading, RejectionKind
from backend.points.models import Meter
from backend.sessions import service as sessions
from backend.sessions.models import SessionStatus, UsageSession
from backend.users.models import Role
from device_gateway.broker_url import BrokerAddress
from device_gateway.gateway import Gateway
from device_gateway.protocol import Ack, OutletReading, Telemetry, Topics, encode
from tests import factories
from tests.mqtt_tools import TestClient, wait_for


@pytest.fixture
def topics(settings):
    return Topics(settings.mqtt_topic_prefix)


@pytest.fixture
def gateway(settings, engine, topics):
    gw = Gateway(BrokerAddress.parse(settings.mqtt_url), engine, topics, settings.gateway_client_id)
    gw.start()
    assert gw.wait_connected(10)
    yield gw
    gw.stop()


@pytest.fixture
def meter(engine):
    with Session(engine, expire_on_commit=False) as db:
        point, meter = factories.active_point(db)
        db.commit()
    return meter


@pytest.fixture
def device(settings, meter, gateway, topics):
    client = TestClient(settings.mqtt_url, meter.serial, [topics.command(meter.serial)])
    yield client
    client.close()


def telemetry(seq: int, energy: int = 1000, boot: str = "boot-1") -> Telemetry:
    reading = OutletReading(ch=1, energy_wh=energy, power_w=500.0, voltage_v=221.5, current_a=2.26, relay="open")
    return Telemetry(boot_id=boot, seq=seq, ts=datetime.now(UTC), outlets=[reading])


def quarantined(engine) -> list[QuarantineEntry]:
    with Session(engine) as db:
        return list(db.exec(select(QuarantineEntry)))


def count(engine, model) -> int:
    with Session(engine) as db:
        return db.exec(select(func.count()).select_from(model)).one()


def test_telemetry_is_stored_once_per_meter_boot_and_sequence(engine, gateway, device, meter, topics):
    topic = topics.meter(meter.serial, "telemetry")
    for payload in (telemetry(1), telemetry(1), telemetry(2), telemetry(1, boot="boot-2")):
        device.publish(topic, encode(payload))
    wait_for(lambda: gateway.metrics.totals().get("handled_telemetry", 0) == 4, what="4 messages handled")
    assert count(engine, Reading) == 3
    with Session(engine) as db:
        assert db.get(Meter, meter.id).online


@pytest.mark.parametrize("payload, reason", [
    (b"not json", "Invalid JSON"),
    (json.dumps({"v": 2}).encode(), "v: Input should be 1"),
    (encode(telemetry(1)).replace(b'"energy_wh":1000', b'"energy_wh":-5'), "greater than or equal to 0"),
    (encode(Telemetry(boot_id="boot-1", seq=1, ts=datetime(2031, 1, 1, tzinfo=UTC),
                      outlets=telemetry(1).outlets)), "ahead of the platform's clock"),
])
def test_a_malformed_message_is_quarantined_counted_and_the_gateway_goes_on(
        engine, gateway, device, meter, topics, payload, reason, caplog):
    topic = topics.meter(meter.serial, "telemetry")
    device.publish(topic, payload)
    device.publish(topic, encode(telemetry(7)))
    wait_for(lambda: gateway.metrics.totals().get("handled_telemetry", 0) == 1, what="good message after bad")
    assert gateway.metrics.totals()["rejected"] == 1
    [rejected] = wait_for(lambda: quarantined(engine), what="the quarantine to be written")
    assert (rejected.source, rejected.kind, rejected.count) == (meter.serial, RejectionKind.bad_message, 1)
    assert rejected.last_topic == topic and reason in rejected.last_reason
    assert any(topic in r.getMessage() and "rejected" in r.getMessage() for r in caplog.records)


def test_a_message_from_an_unknown_meter_is_quarantined(engine, gateway, settings, topics):
    client = TestClient(settings.mqtt_url, "stranger")
    try:
        client.publish(topics.meter("NOPE0001", "telemetry"), encode(telemetry(1)))
        [rejected] = wait_for(lambda: quarantined(engine), what="the quarantine to be written")
    finally:
        client.close()
    assert (rejected.source, rejected.kind) == ("NOPE0001", RejectionKind.unknown_meter)
    assert "NOPE0001" in rejected.last_reason


def test_start_command_goes_out_after_commit_and_the_ack_opens_the_session(engine, gateway, device, meter, topics):
    with Session(engine, expire_on_commit=False) as db:
        vendor = factories.user(db, Role.vendor, Decimal("10.00"))
        db.commit()
    from backend.core.db import unit_of_work
    from backend.points.service import outlets_of_point
    with unit_of_work(engine, gateway) as db:
        outlet = outlets_of_point(db, meter.point_id)[0]
        session = sessions.start_session(db, vendor, outlet.qr_token, Decimal("1.00"), 30)
    topic, payload = device.next()
    command = json.loads(payload)
    assert topic == topics.command(meter.serial)
    assert command["action"] == "close" and command["session_id"] == session.id
    assert command["energy_limit_wh"] == session.energy_limit_wh
    ack = Ack(cmd_id=command["cmd_id"], action="close", ch=1, session_id=session.id, result="ok",
              energy_wh=4321, boot_id="boot-1", seq=1, ts=datetime.now(UTC))
    device.publish(topics.meter(meter.serial, "ack"), encode(ack))

    def started():
        with Session(engine) as db:
            found = db.get(UsageSession, session.id)
            return found.status == SessionStatus.active and found.start_register_wh == 4321
    wait_for(started, what="session active with start register")


def test_the_gateways_metrics_count_messages_by_kind_and_time_their_storing_and_the_start(
        engine, gateway, device, meter, topics):
    from prometheus_client import REGISTRY

    from backend.core.db import unit_of_work
    from backend.points.service import outlets_of_point
    samples = gateway.metrics.registry.get_sample_value
    round_trips = REGISTRY.get_sample_value("scanpower_command_round_trip_seconds_count", {"command": "close"}) or 0
    device.publish(topics.meter(meter.serial, "telemetry"), encode(telemetry(1)))
    device.publish(topics.meter(meter.serial, "telemetry"), b"not json")
    with Session(engine, expire_on_commit=False) as db:
        vendor = factories.user(db, Role.vendor, Decimal("10.00"))
        db.commit()
    with unit_of_work(engine, gateway) as db:
        session = sessions.start_session(db, vendor, outlets_of_point(db, meter.point_id)[0].qr_token,
                                         Decimal("1.00"), 30)
    command = json.loads(device.next()[1])
    device.publish(topics.meter(meter.serial, "ack"), encode(Ack(
        cmd_id=command["cmd_id"], action="close", ch=1, session_id=session.id, result="ok", energy_wh=1000,
        boot_id="boot-1", seq=2, ts=datetime.now(UTC))))
    wait_for(lambda: samples("scanpower_mqtt_messages_handled_total", {"kind": "ack"}) == 1, what="the ack")
    assert samples("scanpower_mqtt_messages_received_total", {"kind": "telemetry"}) == 2
    assert samples("scanpower_mqtt_messages_rejected_total", {"reason": "bad_message"}) == 1
    assert samples("scanpower_ingest_lag_seconds_count", {"lane": "telemetry"}) == 2  # the bad one is counted too
    assert samples("scanpower_ingest_lag_seconds_count", {"lane": "control"}) == 1
    assert samples("scanpower_gateway_events_total", {"event": "commands_sent"}) == 1
    assert REGISTRY.get_sample_value("scanpower_command_round_trip_seconds_count", {"command": "close"}) \
        == round_trips + 1
