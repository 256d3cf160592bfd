"""Every watt-hour to the one who used it: lost acks, stops never confirmed, late readings, resets mid-session."""
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlmodel import select

from backend.core.clock import utcnow
from backend.meters.orders import RelayOrder, pending_orders
from backend.meters.service import OutletSample, set_presence
from backend.meters.ingest import record_telemetry
from backend.points import service as points
from backend.sessions import meter_events, settlement, timeouts
from backend.sessions import service as sessions
from backend.sessions.models import BillLine, SessionStatus, StopReason
from backend.sessions.views import session_public
from backend.users.models import Role
from billing.tariffs.clock import SHANGHAI
from billing.ledger.service import ledger_total
from billing.wallet.service import wallet_balance
from tests import factories

MIN = Decimal("1.00")
TIMEOUT = 30


@pytest.fixture(autouse=True)
def books_balance(db):
    """Whatever happened to the session, the ledger sums to zero afterwards."""
    yield
    assert ledger_total(db) == 0


@pytest.fixture
def scene(db):
    point, meter = factories.active_point(db, outlets=2, price=Decimal("1.00"), outlet_rated_current_a=Decimal("32"))
    vendor = factories.user(db, Role.vendor, Decimal("50.00"))
    outlet = points.outlets_of_point(db, point.id)[0]
    return meter, outlet, vendor


def sample(outlet, register_wh, session_id=None, closed=True, power_w=1000.0) -> OutletSample:
    return OutletSample(outlet.channel, register_wh, power_w, 228, power_w / 228, closed, session_id)


def opens(orders) -> list[RelayOrder]:
    return [o for o in orders if isinstance(o, RelayOrder) and o.action == "open"]


def given_up(db, scene):
    """A started session whose close ack was lost: the platform gives up after the timeout."""
    meter, outlet, vendor = scene
    session = sessions.start_session(db, vendor, outlet.qr_token, MIN, TIMEOUT)
    [failed] = timeouts.expire_unacknowledged_starts(db, utcnow() + timedelta(seconds=TIMEOUT + 1), TIMEOUT)
    assert failed.status == SessionStatus.failed
    pending_orders(db)
    return session


def test_a_late_ok_ack_revives_a_session_the_platform_gave_up_on_and_bills_the_vendor(db, scene):
    meter, outlet, vendor = scene
    session = given_up(db, scene)
    started = utcnow() - timedelta(minutes=20)
    meter_events.command_acknowledged(db, meter, session.start_cmd_id, "close", True, None, 10_000, started, "b1", 1)
    assert session.status == SessionStatus.stopping and session.stop_reason == StopReason.no_start_ack
    assert session.needs_review and "revived" in session.review_note
    [again] = opens(pending_orders(db))  # the order to switch off goes out again, same command
    assert again.cmd_id == session.stop_cmd_id
    meter_events.command_acknowledged(db, meter, session.stop_cmd_id, "open", True, None, 10_700, utcnow(), "b1", 9)
    assert (session.status, session.energy_wh, session.amount) == (SessionStatus.completed, 700, Decimal("0.70"))
    assert wallet_balance(db, vendor.id) == Decimal("49.30")
    assert ledger_total(db) == 0


def test_a_refused_start_stays_failed_whatever_comes_later(db, scene):
    meter, outlet, vendor = scene
    session = sessions.start_session(db, vendor, outlet.qr_token, MIN, TIMEOUT)
    meter_events.command_acknowledged(db, meter, session.start_cmd_id, "close", False, "outlet busy", 10_000, utcnow())
    meter_events.command_acknowledged(db, meter, session.start_cmd_id, "close", True, None, 10_000, utcnow())
    assert session.status == SessionStatus.failed and not session.needs_review


def test_readings_that_show_a_starting_session_running_start_it_when_its_ack_never_comes(db, scene):
    meter, outlet, vendor = scene
    session = sessions.start_session(db, vendor, outlet.qr_token, MIN, TIMEOUT)
    at = utcnow()
    record_telemetry(db, meter, "b1", 5, at, [sample(outlet, 10_010, session.id)])
    record_telemetry(db, meter, "b1", 6, at + timedelta(seconds=1), [sample(outlet, 10_011, session.id)])
    assert timeouts.expire_unacknowledged_starts(db, at + timedelta(seconds=TIMEOUT + 1), TIMEOUT) == []
    assert (session.status, session.start_register_wh, session.needs_review) == (SessionStatus.active, 10_010, True)
    assert opens(pending_orders(db)) == []  # nobody switches off a session that is running


def test_a_reading_naming_a_session_given_up_on_revives_it_and_its_stop_settles_it(db, scene):
    meter, outlet, vendor = scene
    session = given_up(db, scene)
    at = utcnow() - timedelta(minutes=10)
    record_telemetry(db, meter, "b1", 20, at, [sample(outlet, 20_000, session.id)])
    assert session.status == SessionStatus.stopping and session.start_register_wh == 20_000
    assert len(opens(pending_orders(db))) == 1
    record_telemetry(db, meter, "b1", 21, at + timedelta(minutes=5), [sample(outlet, 20_250, session.id)])
    record_telemetry(db, meter, "b1", 22, utcnow(), [sample(outlet, 20_300, None, closed=False, power_w=0)])
    assert (session.status, session.energy_wh) == (SessionStatus.completed, 300)
    assert wallet_balance(db, vendor.id) == Decimal("49.70")
    assert ledger_total(db) == 0


def test_a_backlog_of_readings_of_a_closed_relay_orders_it_open_once_per_reconnect(db, scene):
    meter, outlet, vendor = scene
    session = sessions.start_session(db, vendor, outlet.qr_token, MIN, TIMEOUT)
    meter_events.command_acknowledged(db, meter, session.start_cmd_id, "close", True, None, 100, utcnow(), "b1", 1)
    sessions.request_stop(db, vendor, session.id, TIMEOUT)
    meter_events.command_acknowledged(db, meter, session.stop_cmd_id, "open", True, None, 200, utcnow(), "b1", 2)
    pending_orders(db)
    at = utcnow() - timedelta(minutes=30)
    for seq in range(3, 41):  # 38 stale readings that still show the relay closed
        record_telemetry(db, meter, "b1", seq, at + timedelta(seconds=seq), [sample(outlet, 200 + seq)])
    assert len(opens(pending_orders(db))) == 1
    set_presence(db, meter, False, "b1")
    set_presence(db, meter, True, "b1")
    record_telemetry(db, meter, "b1", 41, utcnow(), [sample(outlet, 300)])
    record_telemetry(db, meter, "b1", 42, utcnow(), [sample(outlet, 301)])
    assert len(opens(pending_orders(db))) == 1


def running(db, scene, start_wh=10_000):
    meter, outlet, vendor = scene
    session = sessions.start_session(db, vendor, outlet.qr_token, MIN, TIMEOUT)
    start = utcnow() - timedelta(hours=1)
    meter_events.command_acknowledged(db, meter, session.start_cmd_id, "close", True, None, start_wh, start, "b1", 1)
    return session, start


def test_a_stop_never_confirmed_is_settled_from_the_last_reading_then_resettled_by_the_meters_record(db, scene):
    meter, outlet, vendor = scene
    session, start = running(db, scene)
    record_telemetry(db, meter, "b1", 2, start + timedelta(minutes=20), [sample(outlet, 10_400, session.id)])
    record_telemetry(db, meter, "b1", 3, start + timedelta(minutes=40), [sample(outlet, 10_800, session.id)])
    sessions.request_stop(db, vendor, session.id, TIMEOUT)
    stopped_at = session.stop_requested_at
    assert settlement.settle_unconfirmed_stops(db, stopped_at + timedelta(minutes=29), timedelta(minutes=30)) == []
    [settled] = settlement.settle_unconfirmed_stops(db, stopped_at + timedelta(minutes=31), timedelta(minutes=30))
    assert (settled.status, settled.provisional, settled.needs_review) == (SessionStatus.completed, True, True)
    assert (settled.energy_wh, settled.amount) == (800, Decimal("0.80"))
    assert wallet_balance(db, vendor.id) == Decimal("49.20")
    assert session_public(settled).provisional

    # The meter comes back with its answer to the stop: 1.1 kWh in all.
    meter_events.command_acknowledged(db, meter, session.stop_cmd_id, "open", True, None, 11_100,
                                  start + timedelta(minutes=50), "b1", 4)
    assert not session.provisional
    adjustments = db.exec(select(BillLine).where(BillLine.session_id == session.id,
                                                 BillLine.kind == "adjustment")).all()
    assert [a.amount for a in adjustments] == [Decimal("0.30")]
    assert wallet_balance(db, vendor.id) == Decimal("48.90")
    meter_events.command_acknowledged(db, meter, session.stop_cmd_id, "open", True, None, 11_100,
                                  start + timedelta(minutes=50), "b1", 4)  # repeated: nothing more
    assert wallet_balance(db, vendor.id) == Decimal("48.90")
    assert ledger_total(db) == 0


def test_a_provisionally_settled_session_has_its_stop_sent_again_when_the_meter_returns(db, scene):
    meter, _, vendor = scene
    session, _ = running(db, scene)
    sessions.request_stop(db, vendor, session.id, TIMEOUT)
    settlement.settle_unconfirmed_stops(db, utcnow() + timedelta(hours=1), timedelta(minutes=30))
    pending_orders(db)
    set_presence(db, meter, False, "b1")
    set_presence(db, meter, True, "b1")
    assert [o.cmd_id for o in opens(pending_orders(db))] == [session.stop_cmd_id]


def test_late_readings_that_change_rounding_are_repriced_once(db):
    point, meter = factories.active_point(db, outlets=1, outlet_rated_current_a=Decimal("32"))  # Jiangsu TOU
    outlet = points.outlets_of_point(db, point.id)[0]
    vendor = factories.user(db, Role.vendor, Decimal("50.00"))
    session = sessions.start_session(db, vendor, outlet.qr_token, MIN, TIMEOUT)
    start = datetime(2026, 7, 15, 21, 30, tzinfo=SHANGHAI)  # across the 22:00 peak → flat boundary
    meter_events.command_acknowledged(db, meter, session.start_cmd_id, "close", True, None, 10_000, start, "b1", 1)
    sessions.request_stop(db, vendor, session.id, TIMEOUT)
    meter_events.command_acknowledged(db, meter, session.stop_cmd_id, "open", True, None, 18_007,
                                  start + timedelta(hours=2), "b1", 99)
    settled = session.amount  # spread evenly: a quarter of it (2 kWh) at peak
    # The backlog, 19 readings: 8 kW until 22:00 (4 kWh at peak), then about 2.7 kW; each one moves the bill.
    minutes = [3 * n for n in range(1, 11)] + [30 + 10 * n for n in range(1, 10)]
    registers = [10_000 + 400 * n for n in range(1, 11)] + [14_000 + 440 * n + n % 2 for n in range(1, 10)]
    for seq, (minute, register) in enumerate(zip(minutes, registers), start=2):
        record_telemetry(db, meter, "b1", seq, start + timedelta(minutes=minute),
                         [sample(outlet, register, session.id, power_w=8000)])
    assert db.exec(select(BillLine).where(BillLine.kind == "adjustment")).all() == []  # nothing yet
    assert settlement.reprice_late_sessions(db, utcnow() + timedelta(seconds=1)) == []  # still arriving
    [repriced] = settlement.reprice_late_sessions(db, utcnow() + timedelta(seconds=10))
    lines = db.exec(select(BillLine).where(BillLine.session_id == session.id, BillLine.kind == "adjustment")).all()
    fresh = settlement.price_of(db, session)
    assert fresh.total > settled
    assert [line.amount for line in lines] == [fresh.total - settled]  # one adjustment for the whole backlog
    assert settlement.reprice_late_sessions(db, utcnow() + timedelta(seconds=20)) == []
    assert ledger_total(db) == 0


def test_a_register_reset_mid_session_keeps_the_live_view_rising_and_shows_the_review(db, scene):
    meter, outlet, vendor = scene
    session, start = running(db, scene)
    shown = []
    for seq, boot, register, minutes in [(2, "b1", 10_300, 10), (3, "b1", 10_500, 20), (0, "b2", 12, 25),
                                         (1, "b2", 112, 30), (2, "b2", 212, 40)]:
        record_telemetry(db, meter, boot, seq, start + timedelta(minutes=minutes), [sample(outlet, register,
                                                                                            session.id)])
        public = session_public(session)
        shown.append((public.energy_wh, public.amount, public.needs_review))
    assert [energy for energy, _, _ in shown] == [300, 500, 500, 600, 700]
    assert [amount for _, amount, _ in shown] == sorted(amount for _, amount, _ in shown)
    assert [review for _, _, review in shown] == [False, False, True, True, True]
    assert "restarted" in session_public(session).review_note


def stopped_before_its_start_was_confirmed(db, scene):
    """Start, then Stop before the meter acknowledged the close."""
    meter, outlet, vendor = scene
    session = sessions.start_session(db, vendor, outlet.qr_token, MIN, TIMEOUT)
    sessions.request_stop(db, vendor, session.id, TIMEOUT)
    pending_orders(db)
    assert session.status == SessionStatus.stopping and session.start_register_wh is None
    return session


def test_a_session_stopped_before_its_start_was_confirmed_ends_when_the_meter_never_answers(db, scene):
    meter, outlet, vendor = scene
    session = stopped_before_its_start_was_confirmed(db, scene)
    later = utcnow() + timedelta(seconds=TIMEOUT + 1)
    [ended] = timeouts.expire_unacknowledged_starts(db, later, TIMEOUT)
    assert ended.id == session.id and session.status == SessionStatus.failed and session.ended_at is not None
    assert settlement.settle_unconfirmed_stops(db, later + timedelta(days=2), timedelta(minutes=30)) == []
    assert wallet_balance(db, vendor.id) == Decimal("50.00")
    assert ledger_total(db) == 0


def test_the_meters_ok_to_an_open_of_a_session_it_never_started_ends_it_unbilled(db, scene):
    meter, outlet, vendor = scene
    session = stopped_before_its_start_was_confirmed(db, scene)
    # The close was lost; the meter answers the open of a session it is not serving with its current register.
    meter_events.command_acknowledged(db, meter, session.stop_cmd_id, "open", True, None, 10_000, utcnow(), "b1", 3)
    assert session.status == SessionStatus.failed and session.ended_at is not None
    assert "before the meter confirmed" in session.failure_reason
    assert wallet_balance(db, vendor.id) == Decimal("50.00")
    assert ledger_total(db) == 0


def test_a_late_close_ack_after_the_open_was_answered_revives_and_bills_what_the_meter_measured(db, scene):
    meter, outlet, vendor = scene
    session = stopped_before_its_start_was_confirmed(db, scene)
    opened_at, closed_at = utcnow(), utcnow() - timedelta(minutes=10)
    meter_events.command_acknowledged(db, meter, session.stop_cmd_id, "open", True, None, 10_400, opened_at, "b1", 6)
    meter_events.command_acknowledged(db, meter, session.start_cmd_id, "close", True, None, 10_000, closed_at,
                                      "b1", 2)
    assert session.status == SessionStatus.stopping and session.needs_review
    [again] = opens(pending_orders(db))
    # A repeated cmd_id gets the same answer: the register when the relay opened.
    meter_events.command_acknowledged(db, meter, again.cmd_id, "open", True, None, 10_400, opened_at, "b1", 7)
    assert (session.status, session.energy_wh) == (SessionStatus.completed, 400)
    assert wallet_balance(db, vendor.id) == Decimal("49.60")
    assert ledger_total(db) == 0


def test_a_stop_record_of_a_session_given_up_on_bills_the_vendor_from_the_outlets_last_reading(db, scene):
    meter, outlet, vendor = scene
    before = utcnow() - timedelta(minutes=1)
    record_telemetry(db, meter, "b1", 1, before, [sample(outlet, 10_000, closed=False, power_w=0.0)])
    session = given_up(db, scene)
    # Neither the close ack nor any reading arrived; only the meter's own stop record.
    ended = utcnow() + timedelta(minutes=20)
    meter_events.ended_by_meter(db, meter, outlet.channel, session.id, "limit_reached", 10_900, ended, "b1", 40)
    assert (session.status, session.energy_wh) == (SessionStatus.completed, 900)
    assert session.needs_review and "last reading before" in session.review_note
    assert wallet_balance(db, vendor.id) == Decimal("49.10")
    assert ledger_total(db) == 0


def test_energy_a_stop_record_claims_is_not_billed_to_the_applicant_when_nothing_proves_its_start(db, scene):
    from backend.reconciliation import service as reconciliation
    meter, outlet, vendor = scene
    session = given_up(db, scene)
    meter_events.ended_by_meter(db, meter, outlet.channel, session.id, "limit_reached", 10_900, utcnow(), "b1", 40)
    assert session.status == SessionStatus.failed and session.needs_review
    start, end = utcnow() - timedelta(hours=1), utcnow() + timedelta(seconds=1)
    with pytest.raises(reconciliation.EnergyClaimedBySession):
        reconciliation.bill_unattributed(db, outlet.point_id, start, end, now=end + timedelta(seconds=1))
    assert ledger_total(db) == 0


def test_a_stop_record_that_comes_after_a_reading_ended_the_session_names_why_it_stopped(db, scene):
    meter, outlet, vendor = scene
    session, start = running(db, scene)
    stopped = start + timedelta(minutes=30)
    # The reading showing the relay open took the fast way; the meter's own record follows it.
    record_telemetry(db, meter, "b1", 40, stopped, [sample(outlet, 10_500, session.id, closed=False, power_w=0.0)])
    assert (session.status, session.stop_reason) == (SessionStatus.completed, StopReason.meter)
    meter_events.ended_by_meter(db, meter, outlet.channel, session.id, "limit_reached", 10_500, stopped, "b1", 39)
    assert (session.stop_reason, session.energy_wh, session.amount) == (StopReason.limit_reached, 500, Decimal("0.50"))
    assert db.exec(select(BillLine).where(BillLine.kind == "adjustment")).all() == []
    assert wallet_balance(db, vendor.id) == Decimal("49.50")
