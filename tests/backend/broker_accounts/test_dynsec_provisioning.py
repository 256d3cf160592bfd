"""On a real Mosquitto with the dynamic-security plugin: an approved point's meter connects at once, no restart;
a re-issued password replaces the old one; a closed point's meter is refused and dropped."""
import time

from sqlmodel import Session, select

from backend.broker_accounts.configured import device_policy, live_accounts
from backend.broker_accounts.models import BrokerAccount
from backend.broker_accounts.provisioner import Provisioner
from backend.broker_accounts.service import pending_count
from backend.core.db import unit_of_work
from backend.meters.orders import RecordingSink
from backend.points import service as points
from backend.points.commissioning import reissue_password
from backend.points.models import Meter
from backend.tariffs.service import ensure_default_tariffs
from backend.users.models import Role
from device_gateway.protocol import Topics
from tests import factories
from tests.backend.broker_accounts.dynsec_broker import Device, connects
from tests.mqtt_tools import wait_for


def submitted_point(engine, applicant=None) -> int:
    with unit_of_work(engine, RecordingSink()) as db:
        applicant = applicant or factories.user(db, Role.applicant)
        return points.apply_for_point(db, applicant, factories.application(2)).id


def approve(engine, point_id: int) -> Meter:
    with unit_of_work(engine, RecordingSink()) as db:
        tariff = ensure_default_tariffs(db)[1]
        points.approve_point(db, point_id, tariff.id)
        return points.meter_of_point(db, point_id)


def started_provisioner(engine, live_settings) -> Provisioner:
    return Provisioner(engine, live_accounts(live_settings), device_policy(live_settings)).start()


def test_an_approved_points_meter_connects_within_seconds_without_a_restart(engine, live_settings, dynsec,
                                                                             figures):
    provisioner = started_provisioner(engine, live_settings)
    try:
        point_id = submitted_point(engine)
        started = time.monotonic()
        meter = approve(engine, point_id)
        wait_for(lambda: _applied(engine, meter.serial), timeout=5, interval=0.005, what="the account applied")
        applied = time.monotonic() - started
        wait_for(lambda: connects(dynsec.port, meter.serial, meter.mqtt_password, timeout=2), timeout=5,
                 what="the approved meter's first accepted login")
        took = time.monotonic() - started
    finally:
        provisioner.stop()
    pid = dynsec.process.pid
    assert dynsec.process.poll() is None and pid == dynsec.process.pid  # the same broker process, not restarted
    assert not connects(dynsec.port, meter.serial, "not-its-password")
    with Session(engine) as db:
        assert pending_count(db) == 0
    figures(f"approval committed → account on the broker in {applied * 1000:.0f} ms (the provisioner's first "
            f"connection included), the meter's login accepted {took * 1000:.0f} ms after the commit")
    assert took < 5


def test_a_provisioned_meter_may_publish_and_read_only_its_own_topics(engine, live_settings, dynsec):
    provisioner = started_provisioner(engine, live_settings)
    try:
        first = approve(engine, submitted_point(engine))
        second = approve(engine, submitted_point(engine))
        wait_for(lambda: connects(dynsec.port, second.serial, second.mqtt_password, 2), timeout=5, what="login")
    finally:
        provisioner.stop()
    topics = Topics(live_settings.mqtt_topic_prefix)
    gateway = Device(dynsec.port, dynsec.gateway.username, dynsec.gateway.password, "gw-probe")
    meter = Device(dynsec.port, first.serial, first.mqtt_password)
    try:
        assert gateway.accepted() and meter.accepted()
        gateway.client.subscribe([(f, 1) for f in topics.uplink_filters()])
        assert gateway.subscribed.wait(5)
        meter.client.subscribe(topics.command("+"), qos=1)  # every meter's commands: must deliver none of others'
        meter.client.subscribe(topics.command(first.serial), qos=1)
        time.sleep(0.3)
        meter.client.publish(topics.meter(second.serial, "telemetry"), b"forged", qos=1).wait_for_publish(5)
        meter.client.publish(topics.meter(first.serial, "telemetry"), b"own", qos=1).wait_for_publish(5)
        gateway.client.publish(topics.command(second.serial), b"for-second", qos=1).wait_for_publish(5)
        gateway.client.publish(topics.command(first.serial), b"for-first", qos=1).wait_for_publish(5)
        time.sleep(0.5)
        heard = _drain(gateway.received)
        got = _drain(meter.received)
    finally:
        gateway.close()
        meter.close()
    assert heard == [(topics.meter(first.serial, "telemetry"), b"own")]
    assert {payload for _, payload in got} == {b"for-first"}


def test_a_reissued_password_replaces_the_old_one_and_drops_its_connection(engine, live_settings, dynsec):
    provisioner = started_provisioner(engine, live_settings)
    try:
        meter = approve(engine, submitted_point(engine))
        old = meter.mqtt_password
        wait_for(lambda: connects(dynsec.port, meter.serial, old, 2), timeout=5, what="login")
        online = Device(dynsec.port, meter.serial, old)
        assert online.accepted()
        with unit_of_work(engine, RecordingSink()) as db:
            new = reissue_password(db, db.get(Meter, meter.id), None).mqtt_password
        wait_for(lambda: connects(dynsec.port, meter.serial, new, 2), timeout=5, what="the new password")
        assert online.dropped.wait(5), "the connection made with the old password stays up"
        online.close()
    finally:
        provisioner.stop()
    assert not connects(dynsec.port, meter.serial, old)


def test_a_closed_points_meter_is_refused_and_disconnected(engine, live_settings, dynsec):
    provisioner = started_provisioner(engine, live_settings)
    try:
        point_id = submitted_point(engine)
        meter = approve(engine, point_id)
        wait_for(lambda: connects(dynsec.port, meter.serial, meter.mqtt_password, 2), timeout=5, what="login")
        online = Device(dynsec.port, meter.serial, meter.mqtt_password)
        assert online.accepted()
        online.client.reconnect_delay_set(60, 60)  # once dropped, stay down for the assertion
        with unit_of_work(engine, RecordingSink()) as db:
            points.close_point(db, point_id)
        assert online.dropped.wait(5), "the closed point's meter is still connected"
        online.close()
        wait_for(lambda: not connects(dynsec.port, meter.serial, meter.mqtt_password, 2), timeout=5,
                 what="the closed point's meter refused")
    finally:
        provisioner.stop()
    with Session(engine) as db:
        row = db.get(BrokerAccount, meter.serial)
        assert row.applied_present is False and row.applied_version == row.version


def test_a_rolled_back_approval_never_reaches_the_broker(engine, live_settings, dynsec):
    provisioner = started_provisioner(engine, live_settings)
    point_id = submitted_point(engine)
    try:
        try:
            with unit_of_work(engine, RecordingSink()) as db:
                points.approve_point(db, point_id, ensure_default_tariffs(db)[1].id)
                serial, password = points.meter_of_point(db, point_id).serial, \
                    points.meter_of_point(db, point_id).mqtt_password
                raise RuntimeError("the request failed after the approval")
        except RuntimeError:
            pass
        time.sleep(0.5)
    finally:
        provisioner.stop()
    assert not connects(dynsec.port, serial, password)
    with Session(engine) as db:
        assert db.exec(select(BrokerAccount)).all() == []


def _applied(engine, serial: str) -> bool:
    with Session(engine) as db:
        row = db.get(BrokerAccount, serial)
        return row is not None and row.applied_version == row.version


def _drain(q) -> list:
    items = []
    while not q.empty():
        items.append(q.get())
    return items




def test_approving_and_closing_through_the_api_provisions_and_removes_the_account(engine, live_settings, dynsec,
                                                                                 bearer):
    import httpx

    from backend.app import create_app
    from billing.payments.providers import DemoProvider
    from tests.live_server import serve

    with unit_of_work(engine, RecordingSink()) as db:
        operator = factories.user(db, Role.operator)
        tariff_id = ensure_default_tariffs(db)[1].id
    point_id = submitted_point(engine)
    app = create_app(live_settings, engine, RecordingSink(), lambda: True, DemoProvider())
    with serve(app) as url, httpx.Client(base_url=f"{url}/api/v1", headers=bearer(operator)) as api:
        assert api.post(f"/points/{point_id}/approve", json={"tariff_id": tariff_id}).status_code == 200
        with Session(engine) as db:
            meter = points.meter_of_point(db, point_id)
        wait_for(lambda: connects(dynsec.port, meter.serial, meter.mqtt_password, 2), timeout=5,
                 what="the meter approved over HTTP logging in")
        assert api.post(f"/points/{point_id}/close").status_code == 200
        wait_for(lambda: not connects(dynsec.port, meter.serial, meter.mqtt_password, 2), timeout=5,
                 what="the meter of the point closed over HTTP refused")
