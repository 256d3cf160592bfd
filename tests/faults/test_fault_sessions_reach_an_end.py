"""Every session reaches an end and every Wh reaches the vendor who used it, over the real broker.

The gateway runs in this process so a test can take it away (its broker session keeps what arrives
meanwhile) and the scheduler's jobs are called with a moved clock instead of waiting for them.
"""
import time
from datetime import timedelta
from decimal import Decimal

from sqlmodel import Session, select

from backend.core.clock import LOCAL_TZ, utcnow
from backend.core.db import unit_of_work
from backend.meters.models import Reading
from backend.points.models import Meter, MeteringPoint
from backend.sessions import settlement, timeouts
from backend.sessions.models import OPEN_STATUSES, BillLine, SessionStatus, StopReason, UsageSession
from backend.tariffs.service import create_tariff
from billing.ledger.service import ledger_total
from billing.wallet.service import wallet_balance
from firmware_sim.faults import Faults
from firmware_sim.loads import constant
from tests.faults.fault_harness import make_site, session_row, start_session, stop_session, wait_status, wait_until

TIMEOUT = 30
SKEWED_TIMEOUT = 300
GATEWAY = "gw-reach-an-end"


def the_books_balance(engine, site, charged: Decimal) -> None:
    with Session(engine) as db:
        assert wallet_balance(db, site.vendor.id) == Decimal("50.00") - charged
        assert ledger_total(db) == 0


def meter_online(engine, site) -> bool:
    with Session(engine) as db:
        return db.get(Meter, site.meter.id).online


def readings_naming(engine, session_id: int) -> list[Reading]:
    with Session(engine) as db:
        return list(db.exec(select(Reading).where(Reading.session_id == session_id).order_by(Reading.device_time,
                                                                                             Reading.id)))


def open_sessions(engine) -> list[UsageSession]:
    with Session(engine) as db:
        return list(db.exec(select(UsageSession).where(UsageSession.status.in_(OPEN_STATUSES))))


def test_a_start_given_up_on_while_its_ack_was_held_up_is_revived_by_the_late_ack_and_billed_to_the_wh(
        engine, commands, make_fleet, start_gateway):
    gateway = start_gateway(GATEWAY)
    site = make_site(engine)
    fleet = make_fleet()
    meter = fleet.add_meter(site.meter.serial, 2, loads={1: constant(20_000)})
    fleet.start()
    assert fleet.wait_connected(10)
    wait_until(lambda: meter_online(engine, site), 10, "the platform to see the meter online")
    gateway.stop()  # the platform hears nothing for a while; the broker keeps what the meter says

    session_id = start_session(engine, commands, site.vendor, site.outlets[0].qr_token, TIMEOUT)
    wait_until(lambda: meter.outlets[1].relay == "closed", 10, "the meter to switch on")
    time.sleep(1.0)
    with unit_of_work(engine, commands) as db:  # the scheduler, once the start ack is overdue
        [failed] = timeouts.expire_unacknowledged_starts(db, utcnow() + timedelta(seconds=TIMEOUT + 1), TIMEOUT)
    assert failed.id == session_id
    wait_until(lambda: meter.outlets[1].relay == "open", 10, "the meter to obey the platform's order to switch off")
    assert session_row(engine, session_id).status == SessionStatus.failed

    start_gateway(GATEWAY)  # back: the late ack, the readings and the answer to the open arrive
    done = wait_status(engine, session_id, SessionStatus.completed, timeout=30)
    fleet.stop()
    assert done.stop_reason == StopReason.no_start_ack and done.needs_review and "revived" in done.review_note
    assert done.energy_wh == done.stop_register_wh - done.start_register_wh == meter.metered_wh(session_id) > 0
    the_books_balance(engine, site, done.amount)


def test_a_meter_that_never_returns_after_a_stop_has_its_session_settled_from_its_last_reading(
        engine, commands, make_fleet, start_gateway):
    start_gateway(GATEWAY)
    site = make_site(engine)
    fleet = make_fleet()
    fleet.add_meter(site.meter.serial, 2, loads={1: constant(20_000)})
    fleet.start()
    assert fleet.wait_connected(10)
    session_id = start_session(engine, commands, site.vendor, site.outlets[0].qr_token, TIMEOUT)
    wait_status(engine, session_id, SessionStatus.active)
    wait_until(lambda: len(readings_naming(engine, session_id)) >= 5, 10, "a few readings of the session")
    fleet.stop()  # gone for good: the meter is never heard of again
    stop_session(engine, commands, site.vendor, session_id, TIMEOUT)
    time.sleep(0.5)
    last_seen = readings_naming(engine, session_id)[-1].energy_wh

    with unit_of_work(engine, commands) as db:  # the scheduler, half an hour later
        assert settlement.settle_unconfirmed_stops(db, utcnow() + timedelta(minutes=29), timedelta(minutes=30)) == []
        [settled] = settlement.settle_unconfirmed_stops(db, utcnow() + timedelta(minutes=31), timedelta(minutes=30))
    done = session_row(engine, session_id)
    assert (done.status, done.provisional, done.needs_review) == (SessionStatus.completed, True, True)
    assert done.stop_register_wh == last_seen and done.energy_wh == last_seen - done.start_register_wh > 0
    assert open_sessions(engine) == []
    the_books_balance(engine, site, done.amount)


def test_a_stop_before_the_start_was_confirmed_ends_the_session_when_the_meter_never_answers(
        engine, commands, make_fleet, start_gateway):
    gateway = start_gateway(GATEWAY)
    site = make_site(engine)
    fleet = make_fleet()
    fleet.add_meter(site.meter.serial, 2, loads={1: constant(20_000)})
    fleet.start()
    assert fleet.wait_connected(10)
    wait_until(lambda: meter_online(engine, site), 10, "the platform to see the meter online")
    gateway.stop()  # so the platform still believes the meter online when it drops off
    fleet.go_offline(site.meter.serial)  # and never comes back
    session_id = start_session(engine, commands, site.vendor, site.outlets[0].qr_token, TIMEOUT)
    stop_session(engine, commands, site.vendor, session_id, TIMEOUT)
    assert session_row(engine, session_id).status == SessionStatus.stopping

    with unit_of_work(engine, commands) as db:  # the scheduler, once the start is overdue
        [ended] = timeouts.expire_unacknowledged_starts(db, utcnow() + timedelta(seconds=TIMEOUT + 1), TIMEOUT)
    fleet.stop()
    assert ended.id == session_id and session_row(engine, session_id).status == SessionStatus.failed
    assert open_sessions(engine) == []
    the_books_balance(engine, site, Decimal("0.00"))


def test_a_backlog_that_moves_energy_across_a_price_change_re_prices_a_settled_session_once(
        engine, commands, make_fleet, start_gateway):
    start_gateway(GATEWAY)
    site = make_site(engine)
    # The meter's clock (which prices every reading) runs to 4 s before a whole minute; the price falls then.
    now = utcnow()
    boundary = now.replace(second=0, microsecond=0) + timedelta(minutes=1 if now.second < 50 else 2)
    boundary_local = boundary.astimezone(LOCAL_TZ)
    with Session(engine) as db:
        point = db.get(MeteringPoint, site.outlets[0].point_id)
        point.tariff_id = create_tariff(db, price_falls_at(boundary_local)).id
        db.add(point)
        db.commit()
    fleet = make_fleet()
    meter = fleet.add_meter(site.meter.serial, 2, loads={1: constant(20_000)},
                            faults=Faults(clock_skew_s=(boundary - now).total_seconds() - 4))
    fleet.start()
    assert fleet.wait_connected(10)
    # Deadlines that outlast the meter's clock running ahead (else it refuses the start as too late).
    session_id = start_session(engine, commands, site.vendor, site.outlets[0].qr_token, SKEWED_TIMEOUT)
    wait_status(engine, session_id, SessionStatus.active)
    wait_until(lambda: len(readings_naming(engine, session_id)) >= 5, 10, "a few readings at the higher price")
    fleet.go_offline(site.meter.serial)  # the rest, across the price change, waits in the meter
    wait_until(lambda: meter.outlets[1].relay == "closed" and fleet.backlog(site.meter.serial) > 100, 15,
               "the meter to meter on past the price change")
    stop_session(engine, commands, site.vendor, session_id, SKEWED_TIMEOUT)
    time.sleep(0.5)
    with unit_of_work(engine, commands) as db:
        [provisional] = settlement.settle_unconfirmed_stops(db, utcnow() + timedelta(minutes=31),
                                                            timedelta(minutes=30))
    first_bill = session_row(engine, session_id).amount
    on_time = len(readings_naming(engine, session_id))
    fleet.go_online(site.meter.serial)  # the backlog and the answer to the stop arrive
    wait_until(lambda: not session_row(engine, session_id).provisional, 30, "the meter's stop register")
    wait_until(lambda: fleet.backlog(site.meter.serial) == 0, 30, "the whole backlog")
    time.sleep(0.5)
    late = len(readings_naming(engine, session_id)) - on_time
    with unit_of_work(engine, commands) as db:  # the scheduler, once the readings stopped coming
        settlement.reprice_late_sessions(db, utcnow() + timedelta(seconds=10))
        assert settlement.reprice_late_sessions(db, utcnow() + timedelta(seconds=20)) == []
    fleet.stop()
    done = session_row(engine, session_id)
    with Session(engine) as db:
        lines = list(db.exec(select(BillLine).where(BillLine.session_id == session_id)))
        fresh = settlement.price_of(db, done)
    adjustments = [line.amount for line in lines if line.kind == "adjustment"]
    assert {line.period for line in lines if line.kind == "energy"} == {"peak"}  # the provisional bill's
    assert {line.period for line in fresh.lines} == {"peak", "flat"} and late > 100
    assert 1 <= len(adjustments) <= 2 and first_bill + sum(adjustments) == fresh.total  # not one per reading
    assert done.energy_wh == meter.metered_wh(session_id)
    the_books_balance(engine, site, fresh.total)


def price_falls_at(boundary) -> dict:
    """A tariff at ¥1.60/kWh for the hour before `boundary` (local) and ¥1.00/kWh the rest of the day."""
    before, at = (boundary - timedelta(hours=1)).strftime("%H:%M"), boundary.strftime("%H:%M")
    return {"name": f"falls-at-{at.replace(':', '')}-{utcnow().timestamp():.0f}", "category": "commercial",
            "versions": [{"label": "v1", "effective_from": "2020-01-01", "time_of_use": {
                "flat_price_per_kwh": "1.00", "ratios": {"peak": "1.6", "valley": "0.35"},
                "seasons": [{"name": "all_year", "months": list(range(1, 13)), "periods": [
                    {"period": "peak", "start": before, "end": at},
                    {"period": "flat", "start": at, "end": before}]}]}}]}
