from datetime import timedelta
from decimal import Decimal

import pytest
from sqlmodel import select

from backend.core.clock import utcnow
from billing.ledger import service as ledger
from billing.ledger.models import JournalEntry
from billing.payments.holds import (HoldClosed, HoldTooSmall, capture_hold, holds_near_expiry, place_hold,
                                    release_hold)
from billing.payments.models import Hold, HoldStatus
from billing.payments.service import PaymentDeclined, top_up
from billing.wallet.arrears import owed
from billing.wallet.service import wallet_balance
from tests.billing.stripe.stripe_support import balance_of, entries, made_event


def _net_received_by_stripe(stripe_api, payment_intent_id: str) -> int:
    """What Stripe kept, in fen: `amount_received` where the server has it.

    localstripe has no amount_received; it books the released rest of a partial capture
    as a refund on the charge, so the charge's amount less its refunds is the same figure.
    """
    intent = stripe_api.intent(payment_intent_id)
    if "amount_received" in intent:
        return intent["amount_received"]
    charge = stripe_api.charge_of(payment_intent_id)
    return charge["amount"] - charge["amount_refunded"] if charge["captured"] else 0


def test_a_hold_reserves_the_amount_on_the_card_without_booking_anything(db, vendor, provider, stripe_api):
    hold = place_hold(db, vendor.id, Decimal("50.00"), provider)

    intent = stripe_api.intent(hold.payment_intent_id)
    assert intent["status"] == "requires_capture"
    assert intent["capture_method"] == "manual"
    assert intent["amount"] == 5000 and intent["currency"] == "cny"
    assert hold.status is HoldStatus.authorized
    assert db.exec(select(Hold)).one().amount == Decimal("50.00")
    assert ledger.ledger_total(db) == 0 and entries(db, "hold_capture") == []


def test_partial_capture_takes_the_settled_amount_and_releases_the_rest(db, vendor, provider, stripe_api):
    hold = place_hold(db, vendor.id, Decimal("50.00"), provider)

    capture_hold(db, hold, Decimal("12.34"), provider)

    assert stripe_api.intent(hold.payment_intent_id)["status"] == "succeeded"
    assert _net_received_by_stripe(stripe_api, hold.payment_intent_id) == 1234
    assert (hold.status, hold.captured_amount, hold.wallet_amount) == (HoldStatus.captured, Decimal("12.34"), 0)
    assert balance_of(db, ledger.REVENUE) == Decimal("12.34")
    assert balance_of(db, "clearing:stripe") == Decimal("-12.34")
    [entry] = entries(db, "hold_capture")
    assert "captured ¥12.34 of the ¥50.00 card hold" in entry.memo and "¥37.66 released" in entry.memo
    assert ledger.ledger_total(db) == 0


def test_an_amount_below_stripes_minimum_is_taken_from_the_wallet_and_the_hold_released(db, vendor, provider,
                                                                                        stripe_api):
    top_up(db, vendor.id, Decimal("10.00"), provider)
    hold = place_hold(db, vendor.id, Decimal("50.00"), provider)

    capture_hold(db, hold, Decimal("2.00"), provider)

    assert stripe_api.intent(hold.payment_intent_id)["status"] == "canceled"
    assert _net_received_by_stripe(stripe_api, hold.payment_intent_id) == 0
    assert (hold.status, hold.captured_amount, hold.wallet_amount) == (HoldStatus.charged_to_wallet, 0,
                                                                       Decimal("2.00"))
    assert wallet_balance(db, vendor.id) == Decimal("8.00")
    assert balance_of(db, ledger.REVENUE) == Decimal("2.00")
    [entry] = entries(db, "hold_wallet_charge")
    assert "below Stripe's ¥4.00 minimum" in entry.memo
    assert ledger.ledger_total(db) == 0


def test_the_minimum_itself_is_captured_by_card(db, vendor, provider, stripe_api):
    hold = place_hold(db, vendor.id, Decimal("50.00"), provider)

    capture_hold(db, hold, provider.minimum_charge, provider)

    assert hold.status is HoldStatus.captured
    assert _net_received_by_stripe(stripe_api, hold.payment_intent_id) == 400


def test_usage_above_the_hold_captures_the_hold_and_charges_the_excess_to_the_wallet(db, vendor, provider,
                                                                                      stripe_api):
    top_up(db, vendor.id, Decimal("0.20"), provider)
    hold = place_hold(db, vendor.id, Decimal("20.00"), provider)

    capture_hold(db, hold, Decimal("20.50"), provider)

    assert _net_received_by_stripe(stripe_api, hold.payment_intent_id) == 2000
    assert (hold.captured_amount, hold.wallet_amount) == (Decimal("20.00"), Decimal("0.50"))
    # The wallet gives what it has and never goes below zero; the rest is owed.
    assert (wallet_balance(db, vendor.id), owed(db, vendor.id)) == (Decimal("0.00"), Decimal("0.30"))
    assert balance_of(db, ledger.REVENUE) == Decimal("20.50")
    assert ledger.ledger_total(db) == 0


def test_nothing_used_releases_the_whole_hold_and_books_nothing(db, vendor, provider, stripe_api):
    hold = place_hold(db, vendor.id, Decimal("50.00"), provider)

    capture_hold(db, hold, Decimal("0.00"), provider)

    assert hold.status is HoldStatus.released
    assert stripe_api.intent(hold.payment_intent_id)["status"] == "canceled"
    assert db.exec(select(JournalEntry)).all() == []


def test_settling_twice_with_the_same_amount_is_a_no_op_and_with_another_is_refused(db, vendor, provider):
    hold = place_hold(db, vendor.id, Decimal("50.00"), provider)
    capture_hold(db, hold, Decimal("12.34"), provider)

    capture_hold(db, hold, Decimal("12.34"), provider)
    with pytest.raises(HoldClosed):
        capture_hold(db, hold, Decimal("13.00"), provider)

    assert len(entries(db, "hold_capture")) == 1


def test_a_session_that_never_started_releases_its_hold(db, vendor, provider, stripe_api):
    hold = place_hold(db, vendor.id, Decimal("50.00"), provider)

    release_hold(db, hold, provider)
    release_hold(db, hold, provider)

    assert hold.status is HoldStatus.released and hold.closed_at is not None
    assert stripe_api.intent(hold.payment_intent_id)["status"] == "canceled"
    with pytest.raises(HoldClosed):
        capture_hold(db, hold, Decimal("5.00"), provider)
    assert db.exec(select(JournalEntry)).all() == []


def test_a_declined_card_places_no_hold(db, vendor, declining_provider):
    with pytest.raises(PaymentDeclined):
        place_hold(db, vendor.id, Decimal("50.00"), declining_provider)

    assert db.exec(select(Hold)).all() == []


def test_a_hold_below_the_minimum_charge_is_refused_before_asking_stripe(db, vendor, provider):
    with pytest.raises(HoldTooSmall):
        place_hold(db, vendor.id, Decimal("3.99"), provider)


def test_holds_near_expiry_are_the_open_ones_older_than_six_and_a_half_days(db, vendor, provider):
    now = utcnow()
    old, young, settled = (place_hold(db, vendor.id, Decimal("50.00"), provider) for _ in range(3))
    old.created_at = now - timedelta(days=6, hours=13)
    young.created_at = now - timedelta(days=6)
    settled.created_at = now - timedelta(days=6, hours=20)
    db.flush()
    capture_hold(db, settled, Decimal("10.00"), provider)

    assert [h.id for h in holds_near_expiry(db, now)] == [old.id]


def test_stripe_canceling_an_open_hold_marks_it_canceled(db, vendor, provider, stripe_api, deliver):
    hold = place_hold(db, vendor.id, Decimal("50.00"), provider)
    db.commit()
    provider.client.v1.payment_intents.cancel(hold.payment_intent_id)  # as Stripe does after 7 days
    intent = stripe_api.intent(hold.payment_intent_id) | {"cancellation_reason": "automatic"}

    answer = deliver(made_event("payment_intent.canceled", intent))

    assert answer.status_code == 200
    db.refresh(hold)
    assert hold.status is HoldStatus.canceled
    with pytest.raises(HoldClosed):
        capture_hold(db, hold, Decimal("5.00"), provider)


def test_a_captured_hold_succeeding_in_a_webhook_books_nothing_more(db, vendor, provider, stripe_api, deliver):
    hold = place_hold(db, vendor.id, Decimal("50.00"), provider)
    capture_hold(db, hold, Decimal("12.34"), provider)
    db.commit()

    answer = deliver(stripe_api.event_for(hold.payment_intent_id, "payment_intent.succeeded"))

    assert answer.json()["outcome"] == "handled"
    assert balance_of(db, ledger.REVENUE) == Decimal("12.34")
    assert wallet_balance(db, vendor.id) == Decimal("0.00")
