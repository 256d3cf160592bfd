"""An app on the test's own database (tests/conftest.py: PostgreSQL in CI), seeded through the services, and
signed-in clients."""
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tests.browser import browser
from backend.app import create_app
from backend.core.clock import local_today, utcnow
from backend.core.config import Settings
from backend.core.db import unit_of_work
from backend.core.security import create_access_token, hash_password
from backend.deps import COOKIE_NAME
from backend.meters.orders import RecordingSink
from backend.points import service as points
from backend.points.models import Meter, MeteringPoint, PointApply, PointStatus, Purpose
from backend.sessions import live, meter_events
from backend.sessions import service as sessions
from backend.sessions.models import UsageSession
from backend.tariffs.service import create_tariff, ensure_default_tariffs
from backend.users.models import Role, User
from billing.payments.providers import DemoProvider
from billing.payments.service import top_up

PASSWORD = "correct-horse-9"


@dataclass
class World:
    """What the tests seed and look at."""

    engine: Engine
    sink: RecordingSink
    operator_id: int
    applicant_id: int
    vendor_id: int
    other_vendor_id: int
    point_id: int
    tokens: list[str]


def application(name: str = "Xinhua Road night market", outlets: int = 3) -> PointApply:
    today = local_today()
    return PointApply(name=name, address="Xinhua Road 8, Gulou, Nanjing", latitude=32.06, longitude=118.79,
                      purpose=Purpose.night_market, capacity_kw=Decimal("20"), outlet_count=outlets,
                      outlet_rated_current_a=Decimal("16"), valid_from=today - timedelta(days=1),
                      valid_until=today + timedelta(days=60))


def _seed(db: Session, password_hash: str) -> dict:
    operator, applicant, vendor, other = (_user(db, phone, role, name, password_hash) for phone, role, name in (
        ("13800000001", Role.operator, "Grid operator"), ("13800000002", Role.applicant, "Market manager"),
        ("13800000003", Role.vendor, "Noodle stall"), ("13800000004", Role.vendor, "Fruit stall")))
    ensure_default_tariffs(db)
    # A flat price keeps the figures on the pages independent of the time of day the tests run.
    tariff = create_tariff(db, {"name": "flat-commercial", "title": "Commercial, flat", "category": "commercial",
                                "versions": [{"label": "v1", "effective_from": "2020-01-01",
                                              "price_per_kwh": "0.6700"}]})
    point = points.apply_for_point(db, applicant, application())
    points.approve_point(db, point.id, tariff.id)
    point.status = PointStatus.active
    points.meter_of_point(db, point.id).online = True
    for user in (vendor, other):
        top_up(db, user.id, Decimal("50.00"), DemoProvider())
    return dict(operator_id=operator.id, applicant_id=applicant.id, vendor_id=vendor.id, other_vendor_id=other.id,
                point_id=point.id, tokens=[o.qr_token for o in points.outlets_of_point(db, point.id)])


def _user(db: Session, phone: str, role: Role, name: str, password_hash: str) -> User:
    """As `create_user` makes one, with the password hashed once per run (argon2 is slow on purpose)."""
    user = User(phone=phone, name=name, role=role, password_hash=password_hash)
    db.add(user)
    db.flush()
    return user


@pytest.fixture(scope="session")
def password_hash() -> str:
    return hash_password(PASSWORD)


@pytest.fixture
def world(engine, password_hash) -> World:
    """The test's own migrated database (PostgreSQL in CI, else SQLite), seeded through the services."""
    with Session(engine, expire_on_commit=False) as db:
        seeded = _seed(db, password_hash)
        db.commit()
    return World(engine=engine, sink=RecordingSink(), **seeded)


@pytest.fixture
def app(world: World, database_url):
    settings = Settings(database_url=database_url, secret_key="pages-test-secret-of-at-least-32-bytes",
                        public_base_url="https://power.example.cn")
    return create_app(settings, world.engine, world.sink, lambda: True, DemoProvider())


@pytest.fixture
def anonymous(app) -> TestClient:
    with browser(app) as client:
        yield client


def _signed_in(app, user_id: int) -> TestClient:
    """A client holding the page cookie, as after /login (tested on its own) but without hashing a password."""
    settings = app.state.settings
    client = browser(app)  # the cookie is Secure: the site is https
    token = create_access_token(user_id, settings.jwt_secret(), 10)
    client.cookies.set(COOKIE_NAME, token, domain="testserver.local")
    return client


@pytest.fixture
def vendor(app, world: World) -> TestClient:
    with _signed_in(app, world.vendor_id) as client:
        yield client


@pytest.fixture
def other_vendor(app, world: World) -> TestClient:
    with _signed_in(app, world.other_vendor_id) as client:
        yield client


@pytest.fixture
def operator(app, world: World) -> TestClient:
    with _signed_in(app, world.operator_id) as client:
        yield client


@pytest.fixture
def applicant(app, world: World) -> TestClient:
    with _signed_in(app, world.applicant_id) as client:
        yield client


@pytest.fixture
def db(world: World):
    """A separate DB session for looking at what the pages did (each test reads after the requests)."""
    with Session(world.engine, expire_on_commit=False) as session:
        yield session


@pytest.fixture
def pending_point(world: World) -> MeteringPoint:
    """A fresh application, still waiting for an operator."""
    with Session(world.engine, expire_on_commit=False) as db:
        applicant = db.get(User, world.applicant_id)
        point = points.apply_for_point(db, applicant, application("Tea garden roasting shed", outlets=2))
        db.commit()
        return point


class SessionDriver:
    """Moves a session along through the services, as the gateway would on the meter's messages."""

    def __init__(self, world: World):
        self.world = world
        self.seq = 0

    def start(self, vendor_id: int, outlet: int = 0, register_wh: int = 120_000) -> int:
        with unit_of_work(self.world.engine, self.world.sink) as db:
            session = sessions.start_session(db, db.get(User, vendor_id), self.world.tokens[outlet],
                                             Decimal("1.00"), 30)
            db.flush()
            # Started two hours ago, so the energy used by the tests is physically plausible.
            meter_events.command_acknowledged(db, db.get(Meter, session.meter_id), session.start_cmd_id, "close", True,
                                          None, register_wh, utcnow() - timedelta(hours=2), "boot-1", 0)
            return session.id

    def read(self, session_id: int, register_wh: int, power_w: float) -> None:
        with unit_of_work(self.world.engine, self.world.sink) as db:
            self.seq += 1
            live.record_live_reading(db, db.get(UsageSession, session_id), register_wh, power_w, utcnow(),
                                         "boot-1", self.seq)

    def finish(self, session_id: int, register_wh: int) -> None:
        with unit_of_work(self.world.engine, self.world.sink) as db:
            session = db.get(UsageSession, session_id)
            vendor = db.get(User, session.vendor_id)
            sessions.request_stop(db, vendor, session_id, 30)
            meter_events.command_acknowledged(db, db.get(Meter, session.meter_id), session.stop_cmd_id, "open", True,
                                          None, register_wh, utcnow())


@pytest.fixture
def session_on(world: World):
    """Start, read and finish sessions as the meter would."""
    return SessionDriver(world)
