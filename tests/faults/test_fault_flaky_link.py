"""Duplicated and lost messages and skewed clocks: the platform's totals still match the meter to the Wh."""
import time
from datetime import timedelta
from decimal import Decimal

from sqlmodel import Session, select

from backend.core.clock import as_utc
from backend.meters.models import Reading
from backend.sessions.models import SessionStatus, StopReason
from billing.wallet.service import wallet_balance
from device_gateway.protocol import Telemetry
from firmware_sim.faults import Faults
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


def test_every_message_delivered_twice_is_applied_once(engine, commands, make_fleet, start_gateway):
    start_gateway()
    balance = Decimal("0.02")
    site = make_site(engine, balance=balance)
    fleet = make_fleet(faults=Faults(duplicate_rate=1.0))
    meter = fleet.add_meter(site.meter.serial, 2, loads={1: constant(30_000)})
    fleet.start()
    assert fleet.wait_connected(10)
    session_id = start_session(engine, commands, site.vendor, site.outlets[0].qr_token)

    done = wait_status(engine, session_id, SessionStatus.completed)  # twice: the ack and session_ended
    fleet.stop()
    published = fleet.published(site.meter.serial)
    assert len(published) == 2 * len({(m.boot_id, m.seq) for m in published})
    wait_all_stored(engine, site.meter.id, published_readings(published))
    # A reading showing the relay open can end the session before the stop record (another lane) names why:
    # the record, repeated until confirmed, renames it.
    done = wait_until(lambda: (s := session_row(engine, session_id)).stop_reason == StopReason.limit_reached and s,
                      15, "the stop record to name the limit")
    assert done.energy_wh == done.energy_limit_wh == meter.metered_wh(session_id) > 0
    with Session(engine) as db:
        assert wallet_balance(db, site.vendor.id) == balance - done.amount  # charged once


def test_lost_telemetry_and_a_slow_clock_change_no_total(engine, site, commands, make_fleet, start_gateway):
    start_gateway()
    skew = timedelta(seconds=-3)
    fleet = make_fleet(faults=Faults(drop_rate=0.2, clock_skew_s=skew.total_seconds(),
                                     lossy_kinds=frozenset({"telemetry"})))
    meter = fleet.add_meter(site.meter.serial, 2, loads={1: constant(25_000), 2: constant(2_000)})
    fleet.start()
    assert fleet.wait_connected(10)
    session_id = start_session(engine, commands, site.vendor, site.outlets[0].qr_token)
    wait_status(engine, session_id, SessionStatus.active)
    time.sleep(1.5)
    stop_session(engine, commands, site.vendor, session_id)
    done = wait_status(engine, session_id, SessionStatus.completed)
    fleet.stop()

    assert any(isinstance(m, Telemetry) for m in fleet.skipped(site.meter.serial))
    wait_all_stored(engine, site.meter.id, published_readings(fleet.published(site.meter.serial)))
    assert done.energy_wh == meter.metered_wh(session_id) == done.stop_register_wh - done.start_register_wh > 0
    with Session(engine) as db:
        reading = db.exec(select(Reading).where(Reading.meter_id == site.meter.id)).first()
    assert abs(as_utc(reading.device_time) - as_utc(reading.received_at) - skew) < timedelta(seconds=1)


def test_a_meter_whose_clock_runs_ahead_refuses_late_commands_and_nothing_is_charged(engine, site, commands,
                                                                                    make_fleet, start_gateway):
    start_gateway()
    fleet = make_fleet(faults=Faults(clock_skew_s=120))  # more than the command timeout
    meter = fleet.add_meter(site.meter.serial, 2, loads={1: constant(25_000)})
    fleet.start()
    assert fleet.wait_connected(10)
    session_id = start_session(engine, commands, site.vendor, site.outlets[0].qr_token)

    failed = wait_status(engine, session_id, SessionStatus.failed)
    assert "deadline passed" in failed.failure_reason
    assert meter.outlets[1].relay == "open" and failed.amount in (None, Decimal("0.00"))
