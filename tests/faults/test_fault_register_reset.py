"""A meter restarts mid-session with a new boot_id and its register at 0: no negative or absurd bill."""
import time
from decimal import Decimal

from sqlmodel import Session

from backend.sessions.models import SessionPublic, SessionStatus
from backend.sessions.views import session_public
from billing.ledger.service import ledger_total
from billing.wallet.service import wallet_balance
from firmware_sim.loads import constant
from tests.faults.fault_harness import (
    published_readings,
    session_row,
    start_session,
    stop_session,
    wait_all_stored,
    wait_status,
    wait_until,
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

    shown_before = live(engine, session_id)
    fleet.reset_register(site.meter.serial)
    assert meter.boot_id != first_boot and fleet.register_wh(site.meter.serial, 2) == 0
    assert fleet.wait_connected(10)
    # The vendor's live view keeps rising through the reset, and shows the review at once.
    after = wait_until(lambda: (s := live(engine, session_id)).needs_review and s.energy_wh > shown_before.energy_wh
                       and s, 10, "the live view to go on rising, under review, after the reset")
    assert after.status == SessionStatus.active and after.amount >= shown_before.amount
    time.sleep(1.0)
    assert live(engine, session_id).energy_wh >= after.energy_wh
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
    with Session(engine) as db:
        assert wallet_balance(db, site.vendor.id) == Decimal("50.00") - done.amount
        assert ledger_total(db) == 0


def live(engine, session_id: int) -> SessionPublic:
    return session_public(session_row(engine, session_id))
