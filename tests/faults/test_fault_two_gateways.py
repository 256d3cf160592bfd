"""Two gateway instances share the meters' messages through a shared subscription; nothing is lost or billed twice."""
import time
import uuid

from backend.sessions.models import SessionStatus
from device_gateway.broker_url import BrokerAddress
from device_gateway.gateway import Gateway
from firmware_sim.loads import constant
from tests.faults.fault_harness import (
    published_readings,
    start_session,
    stop_session,
    wait_all_stored,
    wait_status,
)


def test_two_gateways_on_a_shared_subscription_store_every_reading_once_and_bill_exactly(
        engine, site, mosquitto, topics, commands, make_fleet):
    group = f"gw{uuid.uuid4().hex[:6]}"
    gateways = [Gateway(BrokerAddress.parse(mosquitto.url), engine, topics, f"{group}-{n}", share_group=group)
                for n in range(2)]
    try:
        for gateway in gateways:
            gateway.start()
            assert gateway.wait_connected(10)
        fleet = make_fleet()
        meter = fleet.add_meter(site.meter.serial, 2, loads={1: constant(25_000), 2: constant(3_600)})
        fleet.start()
        assert fleet.wait_connected(10)
        session_id = start_session(engine, commands, site.vendor, site.outlets[0].qr_token)
        wait_status(engine, session_id, SessionStatus.active)
        time.sleep(2.0)
        stop_session(engine, commands, site.vendor, session_id)
        done = wait_status(engine, session_id, SessionStatus.completed)
        fleet.stop()
        wait_all_stored(engine, site.meter.id, published_readings(fleet.published(site.meter.serial)))
        handled = [g.metrics.totals().get("handled_telemetry", 0) for g in gateways]
    finally:
        for gateway in gateways:
            gateway.stop()
    assert all(count > 0 for count in handled), f"one gateway did all the work: {handled}"
    assert done.energy_wh == meter.metered_wh(session_id) == done.stop_register_wh - done.start_register_wh > 0
