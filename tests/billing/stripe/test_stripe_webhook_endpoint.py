import json
import time
from decimal import Decimal

from sqlmodel import select

from billing.ledger import service as ledger
from billing.ledger.models import JournalEntry
from billing.payments.models import StripeEvent
from billing.wallet.service import wallet_balance
from tests.billing.stripe.stripe_support import entries, made_event, signature


def _paid_intent_event(db, vendor, provider, stripe_api) -> bytes:
    charge = provider.charge(vendor.id, Decimal("40.00"))
    return stripe_api.event_for(charge.external_id, "payment_intent.succeeded")


def test_a_webhook_alone_credits_the_top_up_and_is_stored_processed(db, vendor, provider, stripe_api, deliver):
    payload = _paid_intent_event(db, vendor, provider, stripe_api)

    answer = deliver(payload)

    assert answer.status_code == 200
    assert answer.json() == {"received": True, "outcome": "handled"}
    assert wallet_balance(db, vendor.id) == Decimal("40.00")
    stored = db.exec(select(StripeEvent)).one()
    assert stored.id == json.loads(payload)["id"] and stored.type == "payment_intent.succeeded"
    assert stored.processed_at is not None


def test_a_duplicate_delivery_is_acknowledged_and_changes_nothing(db, vendor, provider, stripe_api, deliver):
    payload = _paid_intent_event(db, vendor, provider, stripe_api)
    assert deliver(payload).status_code == 200
    entries_before = len(db.exec(select(JournalEntry)).all())

    again = deliver(payload)

    assert again.status_code == 200
    assert again.json()["outcome"] == "duplicate"
    assert wallet_balance(db, vendor.id) == Decimal("40.00")
    assert len(db.exec(select(JournalEntry)).all()) == entries_before
    assert len(db.exec(select(StripeEvent)).all()) == 1
    assert ledger.ledger_total(db) == 0


def test_a_bad_signature_is_refused_logged_and_counted(db, vendor, provider, stripe_api, deliver, client, caplog):
    payload = _paid_intent_event(db, vendor, provider, stripe_api)
    inflated = payload.replace(b'"amount": 4000', b'"amount": 400000')
    assert inflated != payload

    wrong_secret = deliver(payload, signature(payload, secret="whsec_someone_else"))
    tampered = deliver(inflated, signature(payload))
    unsigned = deliver(payload, "")

    assert [a.status_code for a in (wrong_secret, tampered, unsigned)] == [400, 400, 400]
    assert wrong_secret.json()["error"] == "BadSignature"
    assert 'scanpower_http_rejected_total{reason="BadSignature"} 3' in client.get("/metrics").text
    assert "stripe webhook rejected" in caplog.text
    assert db.exec(select(StripeEvent)).all() == []
    assert wallet_balance(db, vendor.id) == Decimal("0.00")


def test_an_old_signature_is_refused_so_a_captured_request_cannot_be_replayed(deliver):
    payload = made_event("payment_intent.created", {"id": "pi_old", "object": "payment_intent"})

    answer = deliver(payload, signature(payload, at=int(time.time()) - 3600))

    assert answer.status_code == 400


def test_an_event_we_do_not_handle_is_stored_and_acknowledged(db, deliver):
    payload = made_event("customer.created", {"id": "cus_123", "object": "customer"})

    answer = deliver(payload)

    assert answer.status_code == 200
    assert answer.json()["outcome"] == "ignored"
    assert db.exec(select(StripeEvent)).one().object_id == "cus_123"
    assert entries(db, "top_up") == []
