"""Stripe away: a refund or a top-up answers 502 with the reason, and nothing is booked."""
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from backend.app import create_app
from backend.core.config import Settings
from backend.meters.orders import RecordingSink
from billing.ledger.service import ledger_total
from billing.payments.service import top_up
from billing.payments.stripe_provider import StripeProvider
from billing.wallet.service import wallet_balance
from device_gateway.embedded_broker import free_port
from tests.attacks.conftest import PASSWORD
from tests.billing.stripe.stripe_support import SECRET_KEY, WEBHOOK_SECRET


@pytest.fixture
def unreachable():
    """Stripe's SDK pointed at a port where nothing listens, with no retries."""
    return StripeProvider(SECRET_KEY, WEBHOOK_SECRET, api_base=f"http://127.0.0.1:{free_port()}",
                          max_network_retries=0)


def test_an_unreachable_card_service_makes_a_withdrawal_a_502_that_books_nothing(database_url, engine, vendor,
                                                                                provider, unreachable):
    with Session(engine) as db:
        top_up(db, vendor.id, Decimal("30.00"), provider)  # paid by card while Stripe was up
        db.commit()
    settings = Settings(database_url=database_url, secret_key="stripe-test-secret-of-at-least-32-bytes")
    with TestClient(create_app(settings, engine, RecordingSink(), lambda: True, payment_provider=unreachable)) as http:
        token = http.post("/api/v1/auth/token", data={"username": vendor.phone, "password": PASSWORD}).json()
        auth = {"Authorization": f"Bearer {token['access_token']}"}
        withdrawal = http.post("/api/v1/wallet/withdrawals", headers=auth, json={"amount": "10.00"})
        topped = http.post("/api/v1/wallet/top-ups", headers=auth, json={"amount": "10.00"})
    assert (withdrawal.status_code, withdrawal.json()["error"]) == (502, "PaymentServiceUnavailable")
    assert (topped.status_code, topped.json()["error"]) == (502, "PaymentServiceUnavailable")
    assert "nothing was booked" in withdrawal.json()["detail"]
    with Session(engine) as db:
        assert wallet_balance(db, vendor.id) == Decimal("30.00")
        assert ledger_total(db) == 0
