"""Stripe tests against localstripe (a local Stripe-compatible server) with the real SDK.

localstripe is started here, once per test run, on a free port; if it cannot start the
tests fail: nothing is skipped.
"""
import subprocess
import sys
import time
from pathlib import Path

import httpx
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
from device_gateway.embedded_broker import free_port
from tests import factories
from tests.billing.stripe.stripe_support import SECRET_KEY, WEBHOOK_SECRET, StripeApi, signature

LOCALSTRIPE = Path(sys.executable).parent / "localstripe"


@pytest.fixture(scope="session")
def localstripe_url(tmp_path_factory):
    port = free_port()
    log_path = tmp_path_factory.mktemp("localstripe") / "localstripe.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([str(LOCALSTRIPE), "--port", str(port), "--from-scratch"],
                                   stdout=log, stderr=subprocess.STDOUT, cwd=log_path.parent)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, process, log_path)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_up(url: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"localstripe exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            if httpx.get(f"{url}/v1/customers", auth=(SECRET_KEY, ""), timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"localstripe did not answer at {url} within 30 s:\n{log_path.read_text()}")


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


