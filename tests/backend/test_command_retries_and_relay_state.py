"""Commands are retried with the same id until their deadline; the meter's reported relay state wins."""
from datetime import timedelta
from decimal import Decimal

import pytest

from backend.core.clock import as_utc, utcnow
from backend.meters.orders import pending_orders
from backend.meters.service import OutletSample
from backend.meters.ingest import record_telemetry
from backend.points import service as points
from backend.sessions import meter_events, settlement, timeouts
from backend.sessions import service as sessions
from backend.sessions.models import SessionStatus, StopReason
from backend.users.models import Role
from tests import factories

TIMEOUT = 30


@pytest.fixture
def scene(db):
    point, meter = factories.active_point(db, price=Decimal("0.6700"))
    vendor = factories.user(db, Role.vendor, Decimal("20.00"))
    return meter, vendor, points.outlets_of_point(db, point.id)[0]


def sample(outlet, register, relay_closed, session_id=None):
    return OutletSample(outlet.channel, register, 900.0 if relay_closed else 0.0, 221.0, 4.0, relay_closed,
                        session_id)


def test_an_unacknowledged_start_is_resent_with_the_same_id_and_deadline_until_the_deadline(db, scene):
    _, vendor, outlet = scene
    session = sessions.start_session(db, vendor, outlet.qr_token, Decimal("1.00"), TIMEOUT)
    first = pending_orders(db)[0]
    asked = as_utc(session.requested_at)
    assert timeouts.retry_unacknowledged_commands(db, asked + timedelta(seconds=2), TIMEOUT) == []
    assert timeouts.retry_unacknowledged_commands(db, asked + timedelta(seconds=6), TIMEOUT) == [session]
    again = pending_orders(db)[0]
    assert (again.cmd_id, again.deadline, again.action) == (first.cmd_id, first.deadline, "close")
    assert first.deadline == asked + timedelta(seconds=TIMEOUT)
    assert timeouts.retry_unacknowledged_commands(db, asked + timedelta(seconds=TIMEOUT + 1), TIMEOUT) == []


def test_a_stop_not_acknowledged_by_its_deadline_is_reported_to_vendor_and_operator(db, scene):
    meter, vendor, outlet = scene
    session = sessions.start_session(db, vendor, outlet.qr_token, Decimal("1.00"), TIMEOUT)
    meter_events.command_acknowledged(db, meter, session.start_cmd_id, "close", True, None, 10, utcnow(), "b", 1)
    sessions.request_stop(db, vendor, session.id, TIMEOUT)
    pending_orders(db)
    late = timeouts.report_unacknowledged_stops(db, utcnow() + timedelta(seconds=TIMEOUT + 1), TIMEOUT)
    assert late == [session] and session.needs_review
    assert "not confirmed switching off" in session.failure_reason
    assert timeouts.report_unacknowledged_stops(db, utcnow() + timedelta(seconds=TIMEOUT + 2), TIMEOUT) == []


def test_a_relay_reported_open_ends_a_session_whose_stop_record_never_came(db, scene):
    meter, vendor, outlet = scene
    session = sessions.start_session(db, vendor, outlet.qr_token, Decimal("1.00"), TIMEOUT)
    started = utcnow() - timedelta(minutes=30)
    meter_events.command_acknowledged(db, meter, session.start_cmd_id, "close", True, None, 1000, started, "b", 1)
    record_telemetry(db, meter, "b", 2, started + timedelta(minutes=15), [sample(outlet, 1200, True, session.id)])
    assert session.status == SessionStatus.active
    record_telemetry(db, meter, "b", 3, started + timedelta(minutes=20), [sample(outlet, 1250, False, session.id)])
    assert session.status == SessionStatus.completed
    assert (session.stop_register_wh, session.energy_wh, session.stop_reason) == (1250, 250, StopReason.meter)


def test_a_relay_closed_for_a_session_given_up_on_revives_it_with_one_order_to_open(db, scene):
    meter, vendor, outlet = scene
    session = sessions.start_session(db, vendor, outlet.qr_token, Decimal("1.00"), TIMEOUT)
    timeouts.expire_unacknowledged_starts(db, utcnow() + timedelta(seconds=TIMEOUT + 1), TIMEOUT)
    pending_orders(db)
    # The close arrived after all; the meter closed the relay for a session the platform gave up on.
    record_telemetry(db, meter, "b", 7, utcnow(), [sample(outlet, 500, True, session.id)])
    record_telemetry(db, meter, "b", 8, utcnow(), [sample(outlet, 501, True, session.id)])
    orders = pending_orders(db)
    assert [(o.action, o.cmd_id) for o in orders] == [("open", session.stop_cmd_id)]
    assert session.status == SessionStatus.stopping and session.start_register_wh == 500


def test_readings_applied_out_of_order_by_several_gateways_still_bill_in_the_meters_order(db, scene):
    """With shared subscriptions a reading may be stored before the start ack, and another after the stop ack."""
    meter, vendor, outlet = scene
    session = sessions.start_session(db, vendor, outlet.qr_token, Decimal("1.00"), TIMEOUT)
    t0 = utcnow() - timedelta(hours=1)
    # seq 3 (taken after the start, seq 2) arrives first; the ack arrives second.
    record_telemetry(db, meter, "b", 3, t0 + timedelta(minutes=20), [sample(outlet, 1400, True, session.id)])
    meter_events.command_acknowledged(db, meter, session.start_cmd_id, "close", True, None, 1000, t0, "b", 2)
    sessions.request_stop(db, vendor, session.id, TIMEOUT)
    stop = pending_orders(db)[-1]
    meter_events.command_acknowledged(db, meter, stop.cmd_id, "open", True, None, 2000, t0 + timedelta(minutes=60),
                                  "b", 6)
    # seq 4 arrives after the session was settled: the bill is re-priced, not edited.
    record_telemetry(db, meter, "b", 4, t0 + timedelta(minutes=40), [sample(outlet, 1700, True, session.id)])
    readings = settlement.session_readings(db, session)
    assert [(r.seq, r.register_wh) for r in readings] == [(2, 1000), (3, 1400), (4, 1700), (6, 2000)]
    assert session.energy_wh == 1000 and not session.needs_review


def test_the_meters_stop_record_is_confirmed_so_it_stops_repeating_it(db, scene):
    meter, vendor, outlet = scene
    session = sessions.start_session(db, vendor, outlet.qr_token, Decimal("1.00"), TIMEOUT)
    t0 = utcnow() - timedelta(hours=1)
    meter_events.command_acknowledged(db, meter, session.start_cmd_id, "close", True, None, 10, t0, "b", 1)
    pending_orders(db)
    for _ in range(2):  # the meter repeats its record until confirmed; each copy is confirmed, once stored
        meter_events.ended_by_meter(db, meter, outlet.channel, session.id, "overload", 900, t0 + timedelta(minutes=30),
                                "b", 2)
    assert [(o.action, o.cmd_id) for o in pending_orders(db)] == [("confirm_end", f"ce-{session.id}")] * 2
    assert session.stop_reason == StopReason.overload and session.energy_wh == 890


def test_a_meter_coming_online_is_told_its_power_limits(db, scene):
    from backend.meters.orders import LimitsOrder
    from backend.meters.service import set_presence
    meter, _, _ = scene
    meter.online = False
    set_presence(db, meter, True, "b")
    limits = [o for o in pending_orders(db) if isinstance(o, LimitsOrder)]
    assert len(limits) == 1
    assert limits[0].outlet_max_power_w == ((1, 3680.0), (2, 3680.0)) and limits[0].max_total_power_w == 20000.0
    set_presence(db, meter, True, "b")  # already online: nothing new
    assert pending_orders(db) == []


def test_a_point_whose_validity_begins_while_its_meter_is_online_is_activated_by_the_scheduler(db):
    from backend.points.models import PointStatus
    point, meter = factories.active_point(db)
    point.status = PointStatus.approved
    tomorrow = point.valid_from + timedelta(days=2)
    point.valid_from = tomorrow
    assert points.activate_points_with_meters_online(db, tomorrow - timedelta(days=1)) == []
    assert points.activate_points_with_meters_online(db, tomorrow) == [point]
    assert point.status == PointStatus.active
