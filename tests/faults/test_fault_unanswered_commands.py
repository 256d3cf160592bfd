"""Commands the meter never answers, over the real broker: the energy still goes to the vendor who used it."""
import time
from datetime import timedelta
from decimal import Decimal

from sqlmodel import Session, select

from backend.core.clock import utcnow
from backend.core.db import unit_of_work
from backend.meters.models import Reading
from backend.sessions import settlement, timeouts
from backend.sessions.models import BillLine, SessionStatus
from billing.ledger.service import ledger_total
from billing.wallet.service import wallet_balance
from firmware_sim.faults import Faults
from firmware_sim.loads import constant
from tests.faults.fault_harness import (
    make_site,
    session_row,
    start_session,
    stop_session,
    wait_status,
    wait_until,
)

TIMEOUT = 30


def readings_naming(engine, session_id: int) -> list[Reading]:
    with Session(engine) as db:
        return list(db.exec(select(Reading).where(Reading.session_id == session_id).order_by(Reading.id)))


def test_a_session_whose_every_ack_is_lost_is_billed_from_the_meters_readings(engine, commands, make_fleet,
                                                                             start_gateway):
    start_gateway()
    site = make_site(engine)
    fleet = make_fleet(faults=Faults(drop_rate=1.0, lossy_kinds=frozenset({"ack"})))
    meter = fleet.add_meter(site.meter.serial, 2, loads={1: constant(20_000)})
    fleet.start()
    assert fleet.wait_connected(10)
    session_id = start_session(engine, commands, site.vendor, site.outlets[0].qr_token, TIMEOUT)
    wait_until(lambda: any(r.relay_closed for r in readings_naming(engine, session_id)), 10,
               "a reading that shows the relay closed for the session")

    with unit_of_work(engine, commands) as db:  # the scheduler, once the start ack is overdue
        assert timeouts.expire_unacknowledged_starts(db, utcnow() + timedelta(seconds=TIMEOUT + 1), TIMEOUT) == []
    running = session_row(engine, session_id)
    assert running.status == SessionStatus.active and running.needs_review
    first = next(r for r in readings_naming(engine, session_id) if r.relay_closed)
    assert running.start_register_wh == first.energy_wh

    time.sleep(0.5)
    stop_session(engine, commands, site.vendor, session_id, TIMEOUT)
    done = wait_status(engine, session_id, SessionStatus.completed)  # from the reading that shows the relay open
    fleet.stop()
    metered = meter.metered_wh(session_id)
    assert done.energy_wh == done.stop_register_wh - done.start_register_wh > 0
    assert metered - 1_000 <= done.energy_wh <= metered  # all but what ran before the first reading (≤ 50 ms)
    with Session(engine) as db:
        assert wallet_balance(db, site.vendor.id) == Decimal("50.00") - done.amount
        assert ledger_total(db) == 0


def test_a_stop_the_meter_confirms_only_after_provisional_settlement_is_resettled_to_the_wh(engine, commands,
                                                                                          make_fleet, start_gateway):
    start_gateway()
    site = make_site(engine)
    serial = site.meter.serial
    fleet = make_fleet()
    meter = fleet.add_meter(serial, 2, loads={1: constant(20_000)})
    fleet.start()
    assert fleet.wait_connected(10)
    session_id = start_session(engine, commands, site.vendor, site.outlets[0].qr_token, TIMEOUT)
    wait_status(engine, session_id, SessionStatus.active)
    wait_until(lambda: len(readings_naming(engine, session_id)) >= 3, 10, "a few readings of the session")

    fleet.go_offline(serial)  # and it does not come back for a long time
    stop_session(engine, commands, site.vendor, session_id, TIMEOUT)
    time.sleep(0.5)
    with unit_of_work(engine, commands) as db:  # the scheduler, half an hour later
        [provisional] = settlement.settle_unconfirmed_stops(db, utcnow() + timedelta(minutes=31),
                                                            timedelta(minutes=30))
    first_bill = session_row(engine, session_id)
    assert (first_bill.status, first_bill.provisional, first_bill.needs_review) == (SessionStatus.completed, True,
                                                                                    True)
    assert first_bill.energy_wh < meter.metered_wh(session_id)  # the meter kept metering until it got the stop

    fleet.go_online(serial)  # the broker hands it the stop it kept; the meter answers with its stop register
    final = wait_until(lambda: (s := session_row(engine, session_id)) and not s.provisional and s, 15,
                       "the meter's stop to re-settle the session")
    fleet.stop()
    assert final.energy_wh == final.stop_register_wh - final.start_register_wh == meter.metered_wh(session_id)
    with Session(engine) as db:
        adjustments = [line.amount for line in db.exec(select(BillLine).where(BillLine.session_id == session_id,
                                                                              BillLine.kind == "adjustment"))]
        priced_now = settlement.price_of(db, final).total
        assert len(adjustments) <= 1 and first_bill.amount + sum(adjustments) == priced_now  # at most one correction
        assert wallet_balance(db, site.vendor.id) == Decimal("50.00") - priced_now
        assert ledger_total(db) == 0
