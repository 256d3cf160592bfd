"""An API client on the test's database, and bearer headers for users made by the factories."""
import pytest
from fastapi.testclient import TestClient

from backend.app import create_app
from backend.core.security import create_access_token
from backend.meters.orders import RecordingSink
from billing.payments.providers import DemoProvider
from tests.browser import browser


@pytest.fixture
def api_client(settings, engine):
    with TestClient(create_app(settings, engine, RecordingSink(), lambda: True, DemoProvider())) as client:
        yield client


@pytest.fixture
def page_client(settings, engine):
    """The pages, as a browser on the site sends them: its origin and its CSRF token."""
    with browser(create_app(settings, engine, RecordingSink(), lambda: True, DemoProvider())) as client:
        yield client


@pytest.fixture
def bearer(settings):
    """Headers that sign `user` in, without the slow password check."""
    def headers(user) -> dict[str, str]:
        return {"Authorization": f"Bearer {create_access_token(user.id, settings.jwt_secret(), 10)}"}
    return headers
