"""Restart Mosquitto (with persistence) under a streaming meter: both sides come back by themselves, nothing is lost."""
import time

from backend.sessions.models import SessionStatus
from firmware_sim.loads import constant
from tests.faults.fault_harness import (
    published_readings,
    start_session,
    stop_session,
    wait_all_stored,
    wait_status,
    wait_until,
)


def test_a_broker_restart_loses_no_reading(engine, site, mosquitto, gateway_process, commands, make_fleet):
    fleet = make_fleet()
    meter = fleet.add_meter(site.meter.serial, 2, loads={1: constant(25_000), 2: constant(3_600)})
    fleet.start()
    assert fleet.wait_connected(10)
    session_id = start_session(engine, commands, site.vendor, site.outlets[0].qr_token)
    wait_status(engine, session_id, SessionStatus.active)
    time.sleep(1.0)

    mosquitto.restart(down_for=1.0)  # SIGTERM saves the sessions and queued messages to disk
    gateway_process.wait_connected(times=2)
    assert fleet.wait_connected(15), "the meter did not reconnect"
    wait_until(lambda: fleet.backlog(site.meter.serial) == 0, 10, "the meter's backlog to upload")
    time.sleep(0.5)
    stop_session(engine, commands, site.vendor, session_id)
    done = wait_status(engine, session_id, SessionStatus.completed)
    fleet.stop()

    wait_all_stored(engine, site.meter.id, published_readings(fleet.published(site.meter.serial)))
    assert done.energy_wh == meter.metered_wh(session_id) == done.stop_register_wh - done.start_register_wh > 0
