"""Charges after the fact never take a wallet below zero: what it cannot cover is owed, flagged, and collected."""
from datetime import timedelta
from decimal import Decimal

import pytest

from backend.core.clock import utcnow
from backend.meters.orders import pending_orders
from backend.points import service as points
from backend.sessions import meter_events, settlement
from backend.sessions import service as sessions
from backend.sessions.billed import billed_so_far
from backend.users.models import Role
from backend.wallet.service import withdraw
from billing.ledger.service import ledger_total
from billing.payments.providers import DemoProvider
from billing.payments.service import top_up
from billing.wallet.arrears import owed
from billing.wallet.service import wallet_balance
from tests import factories

MIN = Decimal("1.00")


@pytest.fixture
def scene(db):
    point, meter = factories.active_point(db, outlets=2, price=Decimal("1.0000"))
    vendor = factories.user(db, Role.vendor, Decimal("10.00"))
    return meter, points.outlets_of_point(db, point.id), vendor


def provisionally_settled(db, meter, outlet, vendor):
    """A session whose stop the meter has not confirmed: settled at ¥0 from its start register, its money freed."""
    session = sessions.start_session(db, vendor, outlet.qr_token, MIN, 30)
    meter_events.command_acknowledged(db, meter, session.start_cmd_id, "close", True, None, 1_000,
                                      utcnow() - timedelta(hours=3), "b", 1)
    sessions.request_stop(db, vendor, session.id, 30)
    pending_orders(db)
    settlement.settle_unconfirmed_stops(db, utcnow() + timedelta(minutes=31), timedelta(minutes=30))
    assert session.provisional and session.amount == Decimal("0.00")
    return session


def test_a_late_stop_record_after_the_vendor_withdrew_everything_is_owed_not_overdrawn(db, scene):
    meter, outlets, vendor = scene
    session = provisionally_settled(db, meter, outlets[0], vendor)
    withdraw(db, vendor.id, None, DemoProvider())  # all ¥10.00 was free again
    # The meter's stop record comes late: the session ran to its whole ¥10.00 limit.
    meter_events.command_acknowledged(db, meter, session.stop_cmd_id, "open", True, None, 11_000, utcnow(), "b", 9)
    assert billed_so_far(db, session) == Decimal("10.00")
    assert (wallet_balance(db, vendor.id), owed(db, vendor.id)) == (Decimal("0.00"), Decimal("10.00"))
    assert session.needs_review and "¥10.00 of a re-pricing after late meter data" in session.review_note
    assert sessions.spendable_balance(db, vendor.id) == Decimal("-10.00")
    top_up(db, vendor.id, Decimal("10.50"), DemoProvider())  # the next top-up pays it off first
    assert (wallet_balance(db, vendor.id), owed(db, vendor.id)) == (Decimal("0.50"), Decimal("0.00"))
    with pytest.raises(sessions.InsufficientBalance):
        sessions.start_session(db, vendor, outlets[1].qr_token, MIN, 30)
    assert ledger_total(db) == 0


def test_a_late_stop_record_takes_only_what_is_free_beside_a_running_session(db, scene):
    meter, outlets, vendor = scene
    late = provisionally_settled(db, meter, outlets[0], vendor)
    withdraw(db, vendor.id, Decimal("7.00"), DemoProvider())
    running = sessions.start_session(db, vendor, outlets[1].qr_token, MIN, 30)  # reserves the ¥3.00 left
    meter_events.command_acknowledged(db, meter, running.start_cmd_id, "close", True, None, 5_000,
                                      utcnow() - timedelta(hours=1), "b", 10)
    meter_events.command_acknowledged(db, meter, late.stop_cmd_id, "open", True, None, 3_000, utcnow(), "b", 11)
    assert (wallet_balance(db, vendor.id), owed(db, vendor.id)) == (Decimal("3.00"), Decimal("2.00"))
    sessions.request_stop(db, vendor, running.id, 30)
    meter_events.command_acknowledged(db, meter, pending_orders(db)[-1].cmd_id, "open", True, None, 6_000,
                                      utcnow(), "b", 12)
    # The running session's ¥1.00 bill is paid, and its freed ¥2.00 pays off the arrears at once.
    assert (wallet_balance(db, vendor.id), owed(db, vendor.id)) == (Decimal("0.00"), Decimal("0.00"))
    assert ledger_total(db) == 0


def test_a_revived_session_whose_reservation_had_ended_is_charged_what_the_wallet_has(db, scene):
    meter, outlets, vendor = scene
    from backend.sessions import timeouts
    session = sessions.start_session(db, vendor, outlets[0].qr_token, MIN, 30)
    timeouts.expire_unacknowledged_starts(db, utcnow() + timedelta(seconds=31), 30)
    withdraw(db, vendor.id, Decimal("8.00"), DemoProvider())
    # The meter did start it after all: its ok ack comes late, and then its stop record.
    meter_events.command_acknowledged(db, meter, session.start_cmd_id, "close", True, None, 1_000,
                                      utcnow() - timedelta(hours=2), "b", 1)
    meter_events.ended_by_meter(db, meter, outlets[0].channel, session.id, "limit_reached", 6_000, utcnow(), "b", 2)
    assert session.amount == Decimal("5.00")
    assert (wallet_balance(db, vendor.id), owed(db, vendor.id)) == (Decimal("0.00"), Decimal("3.00"))
    assert ledger_total(db) == 0
