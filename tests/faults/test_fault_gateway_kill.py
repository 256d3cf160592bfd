"""SIGKILL the gateway process while a meter streams: after a restart every reading is stored exactly once."""
import time

from backend.sessions.models import SessionStatus
from firmware_sim.loads import constant
from tests.faults.fault_harness import (
    published_readings,
    start_session,
    stop_session,
    wait_all_stored,
    wait_status,
)


def test_a_killed_gateway_loses_no_reading_and_stores_none_twice(engine, site, gateway_process, commands,
                                                                   make_fleet):
    fleet = make_fleet()
    meter = fleet.add_meter(site.meter.serial, 2, loads={1: constant(25_000), 2: constant(3_600)})
    fleet.start()
    assert fleet.wait_connected(10)
    session_id = start_session(engine, commands, site.vendor, site.outlets[0].qr_token)
    wait_status(engine, session_id, SessionStatus.active)

    time.sleep(1.5)
    gateway_process.kill()  # mid-stream: messages in its inbox and in flight are never acknowledged
    time.sleep(1.5)
    gateway_process.start()
    gateway_process.wait_connected()
    time.sleep(1.0)
    stop_session(engine, commands, site.vendor, session_id)
    done = wait_status(engine, session_id, SessionStatus.completed)
    fleet.stop()

    wait_all_stored(engine, site.meter.id, published_readings(fleet.published(site.meter.serial)))
    assert done.energy_wh == meter.metered_wh(session_id) == done.stop_register_wh - done.start_register_wh > 0
    assert done.stop_register_wh == fleet.register_wh(site.meter.serial, 1)
