"""A meter restarts mid-session with a new boot_id and its register at 0: no negative or absurd bill."""
import time
from decimal import Decimal

from backend.sessions.models import SessionStatus
from firmware_sim.loads import constant
from tests.faults.fault_harness import (
    published_readings,
    start_session,
    stop_session,
    wait_all_stored,
    wait_status,
)

REGISTER_BEFORE_WH = 50_000


def test_a_register_reset_mid_session_bills_no_more_than_the_meter_metered(engine, site, commands, make_fleet,
                                                                            start_gateway):
    start_gateway()
    fleet = make_fleet()
    meter = fleet.add_meter(site.meter.serial, 2, loads={1: constant(25_000)},
                            registers_wh={1: REGISTER_BEFORE_WH, 2: 1_234})
    fleet.start()
    assert fleet.wait_connected(10)
    session_id = start_session(engine, commands, site.vendor, site.outlets[0].qr_token)
    first_boot = meter.boot_id
    wait_status(engine, session_id, SessionStatus.active)
    time.sleep(1.0)

    fleet.reset_register(site.meter.serial)
    assert meter.boot_id != first_boot and fleet.register_wh(site.meter.serial, 2) == 0
    assert fleet.wait_connected(10)
    time.sleep(1.0)
    stop_session(engine, commands, site.vendor, session_id)
    done = wait_status(engine, session_id, SessionStatus.completed)
    fleet.stop()

    # seq starts again at 0 under the new boot_id, and those readings are new ones, not repeats.
    published = published_readings(fleet.published(site.meter.serial))
    assert {r.boot_id for r in published} == {first_boot, meter.boot_id}
    wait_all_stored(engine, site.meter.id, published)
    assert done.start_register_wh == REGISTER_BEFORE_WH > done.stop_register_wh
    assert 0 <= done.energy_wh <= meter.metered_wh(session_id)
    assert Decimal("0.00") <= done.amount <= Decimal("50.00")
