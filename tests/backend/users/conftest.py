"""The real app on the test database, a clock the tests move, known accounts, and clients from chosen addresses."""
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from backend.app import create_app
from backend.meters.orders import RecordingSink
from backend.users.models import Role
from tests import factories
from tests.clocks import MovableClock

PASSWORD = "password-123"  # what tests.factories gives every user


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def app(settings, engine, clock):
    app = create_app(settings, engine, RecordingSink(), lambda: True)
    app.state.clock = clock
    return app


def client_from(app, address: str) -> TestClient:
    """A client whose requests come from `address`."""
    return TestClient(app, client=(address, 40000))


@pytest.fixture
def client(app):
    with client_from(app, "198.51.100.10") as http:
        yield http


@pytest.fixture
def vendor(engine):
    with Session(engine, expire_on_commit=False) as db:
        user = factories.user(db, Role.vendor)
        db.commit()
    return user


def sign_in(http, phone: str, password: str = PASSWORD):
    return http.post("/api/v1/auth/token", data={"username": phone, "password": password})
