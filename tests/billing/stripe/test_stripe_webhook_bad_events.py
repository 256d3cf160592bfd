"""Correctly signed events that lack what their type must carry are a 422 that changes nothing — never a 500."""
import json

import pytest
from sqlmodel import select

from billing.payments.models import Payment, StripeEvent
from billing.wallet.service import wallet_balance
from tests.billing.stripe.stripe_support import made_event


def _event(**fields) -> bytes:
    return json.dumps({"id": "evt_bad_1", "object": "event", "type": "payment_intent.succeeded",
                       "data": {"object": {"id": "pi_1", "amount": 100}}} | fields).encode()


@pytest.mark.parametrize("payload", [
    b"[]", b"null", b'"event"',
    _event(data=None), _event(data={}), _event(id=None), _event(type=""), _event(id="e" * 256),
    made_event("payment_intent.succeeded", {}),
    made_event("payment_intent.succeeded", {"id": "pi_1"}),
    made_event("payment_intent.succeeded", {"id": "pi_1", "amount": -5}),
    made_event("payment_intent.payment_failed", {"amount": 100}),
    made_event("payment_intent.canceled", {"id": ""}),
    made_event("charge.refunded", {"payment_intent": {"object": "payment_intent"}}),
], ids=range(14))
def test_an_event_without_its_fields_is_a_422_and_stores_nothing(db, deliver, payload):
    answer = deliver(payload)

    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == "UnreadableEvent"
    assert db.exec(select(StripeEvent)).all() == []


@pytest.mark.parametrize("metadata", [{"user_id": "99999", "purpose": "top_up"},
                                      {"user_id": "9" * 40, "purpose": "top_up"},
                                      {"user_id": 7, "purpose": "top_up"},
                                      {"purpose": "top_up"}, None])
def test_an_intent_for_no_user_of_ours_is_stored_and_credits_nobody(db, deliver, vendor, metadata):
    payload = made_event("payment_intent.succeeded", {"id": "pi_elsewhere", "amount": 4000, "metadata": metadata})

    answer = deliver(payload)

    assert answer.status_code == 200
    assert db.exec(select(Payment)).all() == []
    assert wallet_balance(db, vendor.id) == 0
    assert len(db.exec(select(StripeEvent)).all()) == 1


def test_a_refund_of_a_charge_without_an_intent_is_acknowledged(db, deliver):
    answer = deliver(made_event("charge.refunded", {"id": "ch_1", "payment_intent": None}))

    assert answer.status_code == 200
    assert answer.json() == {"received": True, "outcome": "handled"}
