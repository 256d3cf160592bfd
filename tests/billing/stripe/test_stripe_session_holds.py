"""Pay per session by card: hold at start, the hold buys the energy limit, capture the bill, release the rest."""
from datetime import timedelta
from decimal import Decimal

import pytest

from backend.core.clock import utcnow
from backend.meters.orders import pending_orders
from backend.points import service as points
from backend.sessions import meter_events, settlement, timeouts
from backend.sessions import service as sessions
from backend.users.models import Role
from billing.payments.models import HoldStatus
from billing.payments.providers import DemoProvider
from billing.payments.service import top_up
from backend.wallet.service import NotThatMuchToWithdraw
from billing.wallet.arrears import owed
from billing.wallet.service import wallet_balance
from tests import factories


@pytest.fixture
def scene(db):
    point, meter = factories.active_point(db, outlets=1, price=Decimal("1.0000"), outlet_rated_current_a=Decimal("32"))
    vendor = factories.user(db, Role.vendor, Decimal("3.00"))
    return meter, points.outlets_of_point(db, point.id)[0], vendor


def test_a_card_hold_buys_the_limit_and_only_the_bill_is_captured(db, scene, provider, stripe_api):
    meter, outlet, vendor = scene
    session = sessions.start_session(db, vendor, outlet.qr_token, Decimal("1.00"), 30, Decimal("50.00"), provider)
    assert session.energy_limit_wh == 50_000  # ¥50 at ¥1.00/kWh, whatever the wallet holds
    hold = sessions.hold_of(db, session.id)
    assert hold.amount == Decimal("50.00") and hold.status == HoldStatus.authorized
    started = utcnow() - timedelta(hours=2)
    meter_events.command_acknowledged(db, meter, session.start_cmd_id, "close", True, None, 1000, started, "b", 1)
    sessions.request_stop(db, vendor, session.id, 30)
    stop = pending_orders(db)[-1]
    meter_events.command_acknowledged(db, meter, stop.cmd_id, "open", True, None, 13_340, utcnow(), "b", 2)
    assert session.amount == Decimal("12.34")
    assert wallet_balance(db, vendor.id) == Decimal("3.00")  # the card pays, not the wallet

    captured = settlement.capture_settled_holds(db, provider)
    assert [h.status for h in captured] == [HoldStatus.captured]
    assert hold.captured_amount == Decimal("12.34")
    charge = stripe_api.charge_of(hold.payment_intent_id)
    assert charge["amount"] - charge.get("amount_refunded", 0) == 1234  # the rest of the ¥50 went back
    assert settlement.capture_settled_holds(db, provider) == []  # once


def test_a_session_that_never_started_releases_its_hold(db, scene, provider, stripe_api):
    _, outlet, vendor = scene
    session = sessions.start_session(db, vendor, outlet.qr_token, Decimal("1.00"), 30, Decimal("20.00"), provider)
    timeouts.expire_unacknowledged_starts(db, utcnow() + timedelta(seconds=31), 30)
    released = settlement.capture_settled_holds(db, provider)
    assert [h.status for h in released] == [HoldStatus.released]
    assert stripe_api.intent(sessions.hold_of(db, session.id).payment_intent_id)["status"] == "canceled"


def test_a_card_session_reserves_in_the_wallet_only_a_bill_below_the_cards_minimum(db, scene, provider):
    meter, outlet, vendor = scene
    top_up(db, vendor.id, Decimal("7.00"), DemoProvider())
    session = sessions.start_session(db, vendor, outlet.qr_token, Decimal("1.00"), 30, Decimal("20.00"), provider)
    # A bill below Stripe's ¥4.00 cannot be captured: it would come from the wallet, so ¥3.99 is kept for it.
    assert sessions.spendable_balance(db, vendor.id) == Decimal("10.00") - Decimal("3.99")
    meter_events.command_acknowledged(db, meter, session.start_cmd_id, "close", True, None, 1000,
                                      utcnow() - timedelta(hours=2), "b", 1)
    sessions.request_stop(db, vendor, session.id, 30)
    meter_events.command_acknowledged(db, meter, pending_orders(db)[-1].cmd_id, "open", True, None, 2_500, utcnow(),
                                      "b", 2)
    assert sessions.spendable_balance(db, vendor.id) == Decimal("10.00") - Decimal("1.50")  # its bill, until captured
    settlement.capture_settled_holds(db, provider)
    assert wallet_balance(db, vendor.id) == sessions.spendable_balance(db, vendor.id) == Decimal("8.50")


def test_withdrawing_everything_during_a_card_session_leaves_its_small_bill_covered(db, scene, provider):
    from backend.wallet.service import withdraw
    meter, outlet, vendor = scene
    session = sessions.start_session(db, vendor, outlet.qr_token, Decimal("1.00"), 30, Decimal("20.00"), provider)
    meter_events.command_acknowledged(db, meter, session.start_cmd_id, "close", True, None, 1000,
                                      utcnow() - timedelta(hours=2), "b", 1)
    with pytest.raises(NotThatMuchToWithdraw):
        withdraw(db, vendor.id, None, DemoProvider())  # ¥3.00 in the wallet, all of it kept for a bill below ¥4.00
    sessions.request_stop(db, vendor, session.id, 30)
    meter_events.command_acknowledged(db, meter, pending_orders(db)[-1].cmd_id, "open", True, None, 3_500, utcnow(),
                                      "b", 2)
    withdraw(db, vendor.id, None, DemoProvider())  # what the ¥2.50 bill does not need: ¥0.50 (from the demo top-up)
    settlement.capture_settled_holds(db, provider)
    assert (wallet_balance(db, vendor.id), owed(db, vendor.id)) == (Decimal("0.00"), Decimal("0.00"))


def test_without_stripe_a_card_start_is_refused_plainly(db, scene):
    _, outlet, vendor = scene
    with pytest.raises(sessions.CardPaymentsUnavailable):
        sessions.start_session(db, vendor, outlet.qr_token, Decimal("1.00"), 30, Decimal("20.00"), DemoProvider())


def test_refunding_a_card_paid_session_goes_back_to_the_card(db, scene, provider, stripe_api):
    from backend.sessions.refunds import refund_session
    from backend.sessions.receipts import receipt
    meter, outlet, vendor = scene
    session = sessions.start_session(db, vendor, outlet.qr_token, Decimal("1.00"), 30, Decimal("50.00"), provider)
    meter_events.command_acknowledged(db, meter, session.start_cmd_id, "close", True, None, 0,
                                  utcnow() - timedelta(hours=2), "b", 1)
    sessions.request_stop(db, vendor, session.id, 30)
    meter_events.command_acknowledged(db, meter, pending_orders(db)[-1].cmd_id, "open", True, None, 10_000, utcnow(),
                                  "b", 2)
    settlement.capture_settled_holds(db, provider)
    refund_session(db, session, Decimal("4.00"), "dispute upheld", provider)
    hold = sessions.hold_of(db, session.id)
    stripe_refunds = [r["amount"] for r in stripe_api.refunds(hold.payment_intent_id) if r.get("reason") != "expired"]
    assert 400 in stripe_refunds
    assert receipt(db, session).refunded == Decimal("4.00")
    assert wallet_balance(db, vendor.id) == Decimal("3.00")


def test_a_card_paid_session_is_refunded_once_its_hold_is_settled_and_then_to_the_card(db, scene, provider):
    from backend.sessions.refunds import RefundNotPossible, refund_session
    meter, outlet, vendor = scene
    session = sessions.start_session(db, vendor, outlet.qr_token, Decimal("1.00"), 30, Decimal("50.00"), provider)
    meter_events.command_acknowledged(db, meter, session.start_cmd_id, "close", True, None, 0,
                                      utcnow() - timedelta(hours=2), "b", 1)
    sessions.request_stop(db, vendor, session.id, 30)
    meter_events.command_acknowledged(db, meter, pending_orders(db)[-1].cmd_id, "open", True, None, 6_000, utcnow(),
                                      "b", 2)
    # Settled, but the scheduler has not captured the hold yet: a refund now would go to the wallet while
    # the card is charged moments later.
    with pytest.raises(RefundNotPossible, match="card hold is not settled yet"):
        refund_session(db, session, Decimal("2.00"), "dispute upheld", provider)
    settlement.capture_settled_holds(db, provider)
    assert refund_session(db, session, Decimal("2.00"), "dispute upheld", provider) == Decimal("2.00")
    assert wallet_balance(db, vendor.id) == Decimal("3.00")  # back to the card, not the wallet
