"""A meter loses its network mid-session, cuts at the limit offline, and uploads its backlog in order."""
import time
from decimal import Decimal

from sqlmodel import Session, select

from backend.meters.models import Reading
from backend.points.models import Meter
from backend.sessions.models import SessionStatus, StopReason
from billing.wallet.service import wallet_balance
from firmware_sim.loads import constant
from tests.faults.fault_harness import (
    make_site,
    published_readings,
    session_row,
    start_session,
    stop_session,
    wait_all_stored,
    wait_status,
    wait_until,
)

BALANCE = Decimal("0.02")  # buys a few dozen Wh: the 30 kW load reaches the limit within seconds


def meter_online(engine, meter_id: int) -> bool:
    with Session(engine) as db:
        return db.get(Meter, meter_id).online


def readings_in_arrival_order(engine, meter_id: int) -> list[Reading]:
    with Session(engine) as db:
        return list(db.exec(select(Reading).where(Reading.meter_id == meter_id).order_by(Reading.id)))


def test_the_limit_cut_offline_reaches_the_platform_in_order_and_settles_to_the_wh(engine, commands, make_fleet,
                                                                                   start_gateway):
    start_gateway()
    site = make_site(engine, balance=BALANCE)
    serial = site.meter.serial
    fleet = make_fleet()
    meter = fleet.add_meter(serial, 2, loads={1: constant(30_000)})
    fleet.start()
    assert fleet.wait_connected(10)
    session_id = start_session(engine, commands, site.vendor, site.outlets[0].qr_token)
    wait_status(engine, session_id, SessionStatus.active)

    fleet.go_offline(serial)
    wait_until(lambda: not meter_online(engine, site.meter.id), 30, "the platform to see the meter offline")
    wait_until(lambda: meter.outlets[1].relay == "open", 15, "the meter to cut at the limit while offline")
    time.sleep(0.3)
    assert session_row(engine, session_id).status == SessionStatus.active  # the platform cannot know yet
    assert fleet.backlog(serial) > 0
    fleet.go_online(serial)

    done = wait_status(engine, session_id, SessionStatus.completed)
    fleet.stop()
    wait_all_stored(engine, site.meter.id, published_readings(fleet.published(serial)))
    assert (done.stop_reason, done.stop_register_wh) == (StopReason.limit_reached, fleet.register_wh(serial, 1))
    assert done.energy_wh == done.energy_limit_wh == meter.metered_wh(session_id) > 0
    with Session(engine) as db:
        assert wallet_balance(db, site.vendor.id) == BALANCE - done.amount >= 0
    arrived = readings_in_arrival_order(engine, site.meter.id)
    assert [r.seq for r in arrived] == sorted(r.seq for r in arrived), "the backlog was not stored in order"
    # In order means every reading taken while the relay was closed arrived before session_ended closed it.
    assert {r.session_id for r in arrived if r.channel == 1 and r.relay_closed} == {session_id}


def test_a_stop_that_reached_the_meter_too_late_is_carried_out_when_it_is_back(engine, site, gateway_process,
                                                                               commands, make_fleet):
    serial = site.meter.serial
    fleet = make_fleet()
    meter = fleet.add_meter(serial, 2, loads={1: constant(3_000)})
    fleet.start()
    assert fleet.wait_connected(10)
    session_id = start_session(engine, commands, site.vendor, site.outlets[0].qr_token)
    wait_status(engine, session_id, SessionStatus.active)

    fleet.go_offline(serial)
    stop_session(engine, commands, site.vendor, session_id, command_timeout=1)  # the broker holds it
    time.sleep(1.2)
    fleet.go_online(serial)  # the stop arrives after its deadline: the meter refuses it and keeps serving
    assert fleet.wait_connected(10)

    done = wait_status(engine, session_id, SessionStatus.completed, timeout=6)
    fleet.stop()
    assert done.stop_reason == StopReason.vendor
    assert done.energy_wh == meter.metered_wh(session_id) < done.energy_limit_wh
