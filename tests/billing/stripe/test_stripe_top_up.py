import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from sqlmodel import Session, select

from billing.ledger import service as ledger
from billing.payments.models import Payment, PaymentStatus
from billing.payments.service import PaymentDeclined, credit_top_up, top_up
from billing.payments.stripe_provider import StripeProvider
from billing.payments.webhooks import receive_event
from billing.wallet.service import wallet_balance
from tests.billing.stripe.stripe_support import SECRET_KEY, WEBHOOK_SECRET, balance_of, entries, signature


def test_top_up_by_card_credits_the_wallet_once_when_the_webhook_comes_after(db, vendor, provider, stripe_api,
                                                                             deliver):
    payment = top_up(db, vendor.id, Decimal("30.00"), provider)
    db.commit()

    answer = deliver(stripe_api.event_for(payment.external_id, "payment_intent.succeeded"))

    assert answer.status_code == 200
    assert wallet_balance(db, vendor.id) == Decimal("30.00")
    assert len(entries(db, "top_up")) == 1
    assert stripe_api.intent(payment.external_id)["status"] == "succeeded"
    assert stripe_api.intent(payment.external_id)["amount"] == 3000
    assert ledger.ledger_total(db) == 0


def test_top_up_by_card_credits_the_wallet_once_when_the_webhook_comes_first(db, vendor, localstripe_url,
                                                                             stripe_api, deliver):
    class WebhookBeforeAnswer(StripeProvider):
        """Stripe's webhook reaches us before the answer to our own request does."""

        def charge(self, user_id, amount, idempotency_key=None):
            charge = super().charge(user_id, amount, idempotency_key)
            assert deliver(stripe_api.event_for(charge.external_id, "payment_intent.succeeded")).status_code == 200
            return charge

    provider = WebhookBeforeAnswer(SECRET_KEY, WEBHOOK_SECRET, api_base=localstripe_url)

    payment = top_up(db, vendor.id, Decimal("25.50"), provider)
    db.commit()

    assert payment.status is PaymentStatus.succeeded
    assert wallet_balance(db, vendor.id) == Decimal("25.50")
    assert len(entries(db, "top_up")) == 1
    assert len(db.exec(select(Payment)).all()) == 1
    assert balance_of(db, "clearing:stripe") == Decimal("-25.50")
    assert ledger.ledger_total(db) == 0


def test_the_wallet_endpoint_tops_up_by_card_through_stripe(client, db, vendor, stripe_api):
    token = client.post("/api/v1/auth/token", data={"username": vendor.phone, "password": "password-123"})
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}

    answer = client.post("/api/v1/wallet/top-ups", json={"amount": "12.34"}, headers=headers)

    assert answer.status_code == 201, answer.text
    assert Decimal(answer.json()["balance"]) == Decimal("12.34")
    payment = db.exec(select(Payment)).one()
    assert payment.provider == "stripe" and payment.external_id.startswith("pi_")
    assert stripe_api.intent(payment.external_id)["amount"] == 1234
    assert stripe_api.intent(payment.external_id)["currency"] == "cny"


def test_a_declined_card_credits_nothing(db, vendor, declining_provider):
    with pytest.raises(PaymentDeclined):
        top_up(db, vendor.id, Decimal("20.00"), declining_provider)
    db.rollback()

    assert wallet_balance(db, vendor.id) == Decimal("0.00")
    assert entries(db, "top_up") == []


def test_a_payment_failed_webhook_marks_the_top_up_failed_and_credits_nothing(db, vendor, declining_provider,
                                                                              stripe_api, deliver):
    charge = declining_provider.charge(vendor.id, Decimal("20.00"))
    assert not charge.succeeded
    # localstripe's decline names the charge, not the PaymentIntent (Stripe names both).
    failed = [e for e in stripe_api.listing("/v1/events", type="payment_intent.payment_failed")
              if _charge_id(e["data"]["object"]) == charge.external_id]
    assert len(failed) == 1

    answer = deliver(stripe_api.raw(f"/v1/events/{failed[0]['id']}"))

    assert answer.status_code == 200
    payment = db.exec(select(Payment)).one()
    assert payment.status is PaymentStatus.failed
    assert payment.external_id == failed[0]["data"]["object"]["id"]
    assert wallet_balance(db, vendor.id) == Decimal("0.00")


def _charge_id(intent: dict) -> str:
    charge = intent.get("latest_charge") or {}
    return charge if isinstance(charge, str) else charge.get("id", "")


def test_the_answer_and_the_webhook_racing_each_other_credit_the_wallet_once(engine, db, vendor, provider,
                                                                            stripe_api):
    charges = [provider.charge(vendor.id, Decimal("5.00")) for _ in range(5)]
    events = [provider.parse_event(payload, signature(payload))
              for payload in (stripe_api.event_for(c.external_id, "payment_intent.succeeded") for c in charges)]

    def answer(charge, start):
        with Session(engine) as mine:
            start.wait()
            credit_top_up(mine, vendor.id, "stripe", charge.external_id, Decimal("5.00"))
            mine.commit()

    def webhook(event, start):
        with Session(engine) as mine:
            start.wait()
            receive_event(mine, event, provider)
            mine.commit()

    with ThreadPoolExecutor(max_workers=2) as pool:
        for charge, event in zip(charges, events, strict=True):
            start = threading.Barrier(2)
            done = [pool.submit(answer, charge, start), pool.submit(webhook, event, start)]
            for future in done:
                future.result(timeout=60)

    assert wallet_balance(db, vendor.id) == Decimal("25.00")
    assert len(entries(db, "top_up")) == 5
    assert ledger.ledger_total(db) == 0
