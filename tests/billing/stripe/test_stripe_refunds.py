from decimal import Decimal

import pytest
from sqlmodel import select

from billing.ledger import service as ledger
from billing.payments.holds import capture_hold, place_hold
from billing.payments.models import Refund
from billing.payments.refunds import NothingToRefund, RefundExceedsBalance, RefundTooLarge, refund
from billing.payments.service import top_up
from billing.wallet.service import wallet_balance
from tests.billing.stripe.stripe_support import balance_of, made_event, postings_of_kind


def _stripe_refunds_fen(stripe_api, payment_intent_id: str) -> int:
    return sum(r["amount"] for r in stripe_api.refunds(payment_intent_id))


def _refund_postings_fen(db) -> int:
    """What the books say went back to cards: the clearing account's side of refund entries."""
    return int(postings_of_kind(db, "refund", "clearing:stripe") * 100)


def test_a_full_refund_of_a_top_up_leaves_stripe_and_the_ledger_agreeing(db, vendor, provider, stripe_api):
    payment = top_up(db, vendor.id, Decimal("30.00"), provider)

    made = refund(db, payment, None, "vendor left the market", provider)

    assert made.amount == Decimal("30.00")
    assert _stripe_refunds_fen(stripe_api, payment.external_id) == 3000 == _refund_postings_fen(db)
    assert stripe_api.charge_of(payment.external_id)["refunded"] is True
    assert wallet_balance(db, vendor.id) == Decimal("0.00")
    assert balance_of(db, "clearing:stripe") == Decimal("0.00")
    assert ledger.ledger_total(db) == 0


def test_partial_refunds_of_a_top_up_add_up_in_stripe_and_in_the_ledger(db, vendor, provider, stripe_api):
    payment = top_up(db, vendor.id, Decimal("30.00"), provider)

    refund(db, payment, Decimal("10.00"), "part of the balance", provider)
    refund(db, payment, Decimal("5.55"), "a bit more", provider)

    assert _stripe_refunds_fen(stripe_api, payment.external_id) == 1555 == _refund_postings_fen(db)
    assert wallet_balance(db, vendor.id) == Decimal("14.45")
    stripe_reasons = {r["metadata"]["reason"] for r in stripe_api.refunds(payment.external_id)}
    assert stripe_reasons == {"part of the balance", "a bit more"}
    with pytest.raises(RefundTooLarge):
        refund(db, payment, Decimal("14.46"), "more than is left", provider)
    refund(db, payment, None, "the rest", provider)
    assert _stripe_refunds_fen(stripe_api, payment.external_id) == 3000 == _refund_postings_fen(db)
    with pytest.raises(NothingToRefund):
        refund(db, payment, None, "again", provider)
    assert ledger.ledger_total(db) == 0


def test_money_already_spent_from_the_wallet_is_not_refunded(db, vendor, provider, stripe_api):
    payment = top_up(db, vendor.id, Decimal("30.00"), provider)
    hold = place_hold(db, vendor.id, Decimal("50.00"), provider)
    capture_hold(db, hold, Decimal("1.00"), provider)  # below the minimum: paid from the wallet

    with pytest.raises(RefundExceedsBalance):
        refund(db, payment, Decimal("30.00"), "everything", provider)

    assert stripe_api.refunds(payment.external_id) == []


def test_a_refund_of_a_captured_hold_takes_back_revenue_and_stripe_agrees(db, vendor, provider, stripe_api):
    hold = place_hold(db, vendor.id, Decimal("50.00"), provider)
    capture_hold(db, hold, Decimal("12.34"), provider)

    refund(db, hold, Decimal("2.34"), "meter dispute", provider)
    with pytest.raises(RefundTooLarge):
        refund(db, hold, Decimal("10.01"), "more than was captured", provider)

    charge = stripe_api.charge_of(hold.payment_intent_id)
    kept_by_stripe = charge["amount"] - charge["amount_refunded"]
    assert kept_by_stripe == 1000 == int((hold.captured_amount - Decimal("2.34")) * 100)
    assert _refund_postings_fen(db) == 234
    assert balance_of(db, ledger.REVENUE) == Decimal("10.00")
    assert ledger.ledger_total(db) == 0


def test_a_refund_made_in_the_stripe_dashboard_is_booked_once_from_the_webhook(db, vendor, provider, stripe_api,
                                                                              deliver):
    payment = top_up(db, vendor.id, Decimal("30.00"), provider)
    db.commit()
    provider.client.v1.refunds.create(params={"payment_intent": payment.external_id, "amount": 700})
    event = made_event("charge.refunded", stripe_api.charge_of(payment.external_id))

    assert deliver(event).status_code == 200
    assert deliver(event).json()["outcome"] == "duplicate"
    again = made_event("charge.refunded", stripe_api.charge_of(payment.external_id))
    assert deliver(again).json()["outcome"] == "handled"

    assert _stripe_refunds_fen(stripe_api, payment.external_id) == 700 == _refund_postings_fen(db)
    assert wallet_balance(db, vendor.id) == Decimal("23.00")
    assert db.exec(select(Refund)).one().reason == "refunded in Stripe"
    assert ledger.ledger_total(db) == 0


def test_our_own_refund_seen_again_in_the_webhook_is_not_booked_twice(db, vendor, provider, stripe_api, deliver):
    payment = top_up(db, vendor.id, Decimal("30.00"), provider)
    refund(db, payment, Decimal("4.00"), "vendor asked", provider)
    db.commit()

    answer = deliver(made_event("charge.refunded", stripe_api.charge_of(payment.external_id)))

    assert answer.status_code == 200
    assert _stripe_refunds_fen(stripe_api, payment.external_id) == 400 == _refund_postings_fen(db)


def test_the_webhook_books_a_dashboard_refund_of_a_hold_but_not_the_released_rest(db, vendor, provider,
                                                                                 stripe_api, deliver):
    hold = place_hold(db, vendor.id, Decimal("50.00"), provider)
    capture_hold(db, hold, Decimal("12.34"), provider)
    db.commit()
    provider.client.v1.refunds.create(params={"payment_intent": hold.payment_intent_id, "amount": 234})

    answer = deliver(made_event("charge.refunded", stripe_api.charge_of(hold.payment_intent_id)))

    assert answer.status_code == 200
    charge = stripe_api.charge_of(hold.payment_intent_id)
    assert charge["amount"] - charge["amount_refunded"] == 1000
    assert _refund_postings_fen(db) == 234
    assert balance_of(db, ledger.REVENUE) == Decimal("10.00")
