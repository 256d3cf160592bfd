"""Stripe tests against localstripe (a local Stripe-compatible server) with the real SDK.

localstripe is started once per test run, on a free port (tests/billing/stripe/localstripe.py); if it cannot
start the tests fail: nothing is skipped.
"""
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from backend.app import API_PREFIX, create_app
from backend.core.config import Settings
from backend.meters.orders import RecordingSink
from backend.users.models import Role, User
from backend.webhooks import endpoints as webhooks
from billing.ledger import service as ledger
from billing.payments.stripe_provider import StripeProvider
from tests import factories
from tests.billing.stripe import localstripe
from tests.billing.stripe.stripe_support import SECRET_KEY, WEBHOOK_SECRET, StripeApi, signature

localstripe_url = localstripe.localstripe_url  # the session's localstripe, a fixture shared with tests/pages/paying


@pytest.fixture
def provider(localstripe_url) -> StripeProvider:
    return StripeProvider(SECRET_KEY, WEBHOOK_SECRET, api_base=localstripe_url, currency="cny")


@pytest.fixture
def declining_provider(localstripe_url) -> StripeProvider:
    """Its card is refused when charged (Stripe's test card 4000 0000 0000 0341)."""
    return StripeProvider(SECRET_KEY, WEBHOOK_SECRET, api_base=localstripe_url,
                          payment_method="pm_card_chargeCustomerFail")


@pytest.fixture
def stripe_api(localstripe_url):
    api = StripeApi(localstripe_url)
    yield api
    api.http.close()


@pytest.fixture
def app(database_url, engine, provider):
    settings = Settings(database_url=database_url, secret_key="stripe-test-secret-of-at-least-32-bytes")
    app = create_app(settings, engine, RecordingSink(), lambda: True, payment_provider=provider)
    app.include_router(webhooks.router, prefix=API_PREFIX)
    return app


@pytest.fixture
def client(app):
    with TestClient(app) as http:
        yield http


@pytest.fixture
def deliver(client):
    """Post a signed webhook to the app, as Stripe does."""
    def post(payload: bytes, header: str | None = None):
        return client.post(f"{API_PREFIX}/webhooks/stripe", content=payload,
                           headers={"Content-Type": "application/json",
                                    "Stripe-Signature": header if header is not None else signature(payload)})
    return post


@pytest.fixture
def vendor(db) -> User:
    made = factories.user(db, Role.vendor)
    db.commit()
    return made


@pytest.fixture(autouse=True)
def books_balance_after_each_scenario(engine):
    yield
    with Session(engine) as db:
        assert ledger.ledger_total(db) == 0


