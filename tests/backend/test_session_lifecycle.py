from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest

from backend.core.clock import utcnow
from backend.meters.orders import pending_orders
from backend.points import service as points
from backend.points.models import PointStatus
from backend.sessions import meter_events, timeouts
from backend.sessions import service as sessions
from backend.sessions.models import SessionStatus, StopReason
from backend.users.models import Role
from billing.ledger.service import ledger_total
from billing.wallet.service import wallet_balance
from tests import factories

MIN = Decimal("1.00")


@pytest.fixture
def scene(db):
    point, meter = factories.active_point(db, price=Decimal("0.6700"))
    vendor = factories.user(db, Role.vendor, Decimal("20.00"))
    outlet = points.outlets_of_point(db, point.id)[0]
    return point, meter, vendor, outlet


def start(db, vendor, outlet):
    session = sessions.start_session(db, vendor, outlet.qr_token, MIN, 30)
    return session, pending_orders(db)


def test_start_orders_relay_closed_with_the_energy_the_balance_buys(db, scene):
    _, meter, vendor, outlet = scene
    session, orders = start(db, vendor, outlet)
    assert session.status == SessionStatus.starting
    assert [(o.meter_serial, o.channel, o.action) for o in orders] == [(meter.serial, outlet.channel, "close")]
    assert orders[0].energy_limit_wh == session.energy_limit_wh == 29850  # floor(20.00 / 0.67 kWh)


def test_full_session_settles_register_delta_once(db, scene):
    _, meter, vendor, outlet = scene
    session, _ = start(db, vendor, outlet)
    now = utcnow()
    meter_events.command_acknowledged(db, meter, session.start_cmd_id, "close", True, None, 10_000, now)
    assert session.status == SessionStatus.active and session.start_register_wh == 10_000
    sessions.request_stop(db, vendor, session.id, 30)
    stop_cmd = pending_orders(db)[0]
    assert stop_cmd.action == "open"
    later = now + timedelta(minutes=30)
    meter_events.command_acknowledged(db, meter, stop_cmd.cmd_id, "open", True, None, 11_237, later)
    meter_events.command_acknowledged(db, meter, stop_cmd.cmd_id, "open", True, None, 11_237, later)  # repeat
    assert session.status == SessionStatus.completed
    assert session.energy_wh == 1237
    expected = (Decimal(1237) * Decimal("0.67") / 1000).quantize(Decimal("0.01"), ROUND_HALF_UP)
    assert session.amount == expected == Decimal("0.83")
    assert session.stop_reason == StopReason.vendor
    assert wallet_balance(db, vendor.id) == Decimal("20.00") - expected
    assert ledger_total(db) == 0


def test_busy_outlet_is_refused(db, scene):
    _, _, vendor, outlet = scene
    start(db, vendor, outlet)
    other = factories.user(db, Role.vendor, Decimal("20.00"))
    with pytest.raises(sessions.OutletBusy):
        sessions.start_session(db, other, outlet.qr_token, MIN, 30)


def test_too_little_balance_is_refused(db, scene):
    _, _, _, outlet = scene
    poor = factories.user(db, Role.vendor, Decimal("0.50"))
    with pytest.raises(sessions.InsufficientBalance, match="0.50"):
        sessions.start_session(db, poor, outlet.qr_token, MIN, 30)


def test_open_sessions_reserve_their_limit(db, scene):
    point, _, vendor, outlet = scene
    first, _ = start(db, vendor, outlet)
    assert sessions.spendable_balance(db, vendor.id) == Decimal("20.00") - Decimal("20.00")
    second_outlet = points.outlets_of_point(db, point.id)[1]
    with pytest.raises(sessions.InsufficientBalance):
        sessions.start_session(db, vendor, second_outlet.qr_token, MIN, 30)


@pytest.mark.parametrize("status, reason", [(PointStatus.approved, "not switched on yet"),
                                            (PointStatus.closed, "closed"), (PointStatus.expired, "expired")])
def test_inactive_point_is_refused(db, scene, status, reason):
    point, _, vendor, outlet = scene
    point.status = status
    with pytest.raises(sessions.PointNotServing, match=reason):
        sessions.start_session(db, vendor, outlet.qr_token, MIN, 30)


def test_point_past_its_validity_is_refused(db, scene):
    point, _, vendor, outlet = scene
    point.valid_until = point.valid_from
    point.valid_from = point.valid_from - timedelta(days=10)
    point.valid_until = point.valid_from + timedelta(days=5)
    with pytest.raises(sessions.PointNotServing, match="expired"):
        sessions.start_session(db, vendor, outlet.qr_token, MIN, 30)


def test_offline_meter_is_refused(db, scene):
    _, meter, vendor, outlet = scene
    meter.online = False
    with pytest.raises(sessions.MeterOffline):
        sessions.start_session(db, vendor, outlet.qr_token, MIN, 30)


def test_meter_refusal_fails_the_session_without_charge(db, scene):
    _, meter, vendor, outlet = scene
    session, _ = start(db, vendor, outlet)
    meter_events.command_acknowledged(db, meter, session.start_cmd_id, "close", False, "outlet busy", 5, utcnow())
    assert session.status == SessionStatus.failed
    assert "outlet busy" in session.failure_reason
    assert wallet_balance(db, vendor.id) == Decimal("20.00")


def test_meter_cut_off_at_limit_settles_with_the_meters_reading(db, scene):
    _, meter, vendor, outlet = scene
    session, _ = start(db, vendor, outlet)
    started = utcnow()
    meter_events.command_acknowledged(db, meter, session.start_cmd_id, "close", True, None, 100, started)
    stop_at = 100 + session.energy_limit_wh
    meter_events.ended_by_meter(db, meter, outlet.channel, session.id, "limit_reached", stop_at,
                            started + timedelta(hours=10))
    assert session.status == SessionStatus.completed
    assert session.stop_reason == StopReason.limit_reached
    assert session.amount == Decimal("20.00")
    assert wallet_balance(db, vendor.id) == Decimal("0.00")


def test_register_going_backwards_bills_nothing(db, scene):
    _, meter, vendor, outlet = scene
    session, _ = start(db, vendor, outlet)
    started = utcnow()
    meter_events.command_acknowledged(db, meter, session.start_cmd_id, "close", True, None, 5000, started,
                                  "boot-1", 10)
    meter_events.ended_by_meter(db, meter, outlet.channel, session.id, "power_loss", 12,
                            started + timedelta(minutes=5), "boot-1", 20)
    assert session.energy_wh == 0 and session.amount == Decimal("0.00")
    assert session.needs_review and "5000" in session.review_note and "12" in session.review_note


def test_vendor_cannot_see_or_stop_another_vendors_session(db, scene):
    _, _, vendor, outlet = scene
    session, _ = start(db, vendor, outlet)
    other = factories.user(db, Role.vendor)
    with pytest.raises(sessions.SessionNotFound):
        sessions.visible_session(db, other, session.id)
    with pytest.raises(sessions.SessionNotFound):
        sessions.request_stop(db, other, session.id, 30)


def test_operator_stop_is_remote(db, scene):
    _, meter, vendor, outlet = scene
    session, _ = start(db, vendor, outlet)
    operator = factories.user(db, Role.operator)
    sessions.request_stop(db, operator, session.id, 30)
    assert session.stop_reason == StopReason.remote


def test_unacknowledged_start_fails_and_orders_the_relay_open(db, scene):
    _, _, vendor, outlet = scene
    session, _ = start(db, vendor, outlet)
    failed = timeouts.expire_unacknowledged_starts(db, utcnow() + timedelta(seconds=31), 30)
    assert failed == [session] and session.status == SessionStatus.failed
    assert [o.action for o in pending_orders(db)] == ["open"]


@pytest.mark.parametrize("reason", ["overload", "power_loss", "unplugged", "no_load"])
def test_the_meters_own_stop_reason_reaches_the_session(db, scene, reason):
    _, meter, vendor, outlet = scene
    session, _ = start(db, vendor, outlet)
    started = utcnow()
    meter_events.command_acknowledged(db, meter, session.start_cmd_id, "close", True, None, 100, started, "b", 1)
    meter_events.ended_by_meter(db, meter, outlet.channel, session.id, reason, 150, started + timedelta(minutes=5),
                            "b", 2)
    assert session.status == SessionStatus.completed and session.stop_reason == StopReason(reason)
