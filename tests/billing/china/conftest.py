"""WeChat Pay and Alipay against local fakes that speak their HTTP APIs, with the real SDKs on our side.

Each fake runs as a real HTTP server on a free port and signs with keys made here, so the SDKs'
request signing and their verification of answers and notifications run for real.
"""
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from backend.app import API_PREFIX, create_app
from backend.core.clock import utcnow
from backend.core.config import Settings
from backend.core.db import unit_of_work
from backend.meters.orders import RecordingSink, RelayOrder
from backend.points import service as points
from backend.points.models import Meter
from backend.sessions import meter_events
from backend.sessions import service as sessions
from backend.sessions.models import UsageSession
from backend.users.models import Role, User
from billing.ledger import service as ledger
from billing.payments.providers import Providers
from tests import factories
from tests.billing.fakes.alipay import FakeAlipay
from tests.billing.fakes.configured import alipay_provider, wechat_provider
from tests.billing.fakes.wechat import Delivery, FakeWeChatPay

PASSWORD = "password-123"


@pytest.fixture
def fake_wechat():
    fake = FakeWeChatPay()
    yield fake
    fake.stop()


@pytest.fixture
def fake_alipay():
    fake = FakeAlipay()
    yield fake
    fake.stop()


@dataclass
class Shop:
    """The app with both Chinese providers, its meters played by hand, and the fakes."""

    client: TestClient
    engine: object
    sink: RecordingSink
    wechat: FakeWeChatPay
    alipay: FakeAlipay
    providers: Providers
    settings: Settings

    def vendor(self, balance: str = "0") -> tuple[User, dict[str, str]]:
        with Session(self.engine, expire_on_commit=False) as db:
            made = factories.user(db, Role.vendor, Decimal(balance))
            db.commit()
        return made, self.token(made)

    def token(self, user: User) -> dict[str, str]:
        answer = self.client.post(f"{API_PREFIX}/auth/token", data={"username": user.phone, "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}

    def post(self, path: str, auth: dict, body: dict | None = None, **headers):
        return self.client.post(f"{API_PREFIX}{path}", json=body or {}, headers=auth | headers)

    def get(self, path: str, auth: dict):
        return self.client.get(f"{API_PREFIX}{path}", headers=auth)

    def to_wechat(self, delivery: Delivery):
        return self.client.post(f"{API_PREFIX}/webhooks/wechat", content=delivery.body, headers=delivery.headers)

    def to_alipay(self, body: bytes):
        return self.client.post(f"{API_PREFIX}/webhooks/alipay", content=body,
                                headers={"Content-Type": "application/x-www-form-urlencoded"})

    def run(self, work):
        """A scheduled job's unit of work."""
        with unit_of_work(self.engine, self.sink) as db:
            return work(db)

    def point(self, outlets: int = 1, price: str = "1.0000") -> list[str]:
        with Session(self.engine, expire_on_commit=False) as db:
            point, _ = factories.active_point(db, outlets=outlets, price=Decimal(price),
                                              outlet_rated_current_a=Decimal("32"))
            tokens = [o.qr_token for o in points.outlets_of_point(db, point.id)]
            db.commit()
        return tokens

    def started_orders(self) -> list[RelayOrder]:
        return [o for o in self.sink.sent if isinstance(o, RelayOrder) and o.action == "close"]

    def use(self, session_id: int, used_wh: int) -> UsageSession:
        """The meter starts the session, the vendor stops it, and the meter reports `used_wh`."""
        with unit_of_work(self.engine, self.sink) as db:
            session = db.get(UsageSession, session_id)
            meter = db.get(Meter, session.meter_id)
            meter_events.command_acknowledged(db, meter, session.start_cmd_id, "close", True, None, 1_000,
                                              utcnow() - timedelta(hours=3), "b", 1)
            vendor = db.get(User, session.vendor_id)
            sessions.request_stop(db, vendor, session.id, 30)
            meter_events.command_acknowledged(db, meter, session.stop_cmd_id, "open", True, None, 1_000 + used_wh,
                                              utcnow(), "b", 2)
        with Session(self.engine) as db:
            return db.get(UsageSession, session_id)

    def ledger_total(self) -> Decimal:
        with Session(self.engine) as db:
            return ledger.ledger_total(db)


def make_shop(database_url, engine, wechat, alipay, *, payscore: bool, preauth: bool) -> Shop:
    settings = Settings(database_url=database_url, secret_key="china-test-secret-of-at-least-32-bytes",
                        command_timeout_seconds=30)
    providers = Providers(wechat_provider(wechat, payscore), alipay_provider(alipay, preauth))
    sink = RecordingSink()
    app = create_app(settings, engine, sink, lambda: True, payment_provider=providers)
    return Shop(TestClient(app), engine, sink, wechat, alipay, providers, settings)


@pytest.fixture
def shop(database_url, engine, fake_wechat, fake_alipay):
    """Sessions paid ahead (no 支付分, no 资金预授权)."""
    made = make_shop(database_url, engine, fake_wechat, fake_alipay, payscore=False, preauth=False)
    with made.client:
        yield made


@pytest.fixture
def holding_shop(database_url, engine, fake_wechat, fake_alipay):
    """Sessions held: the merchant has 微信支付分 and 支付宝资金预授权."""
    made = make_shop(database_url, engine, fake_wechat, fake_alipay, payscore=True, preauth=True)
    with made.client:
        yield made


@pytest.fixture(autouse=True)
def books_balance_after_each_scenario(engine):
    yield
    with Session(engine) as db:
        assert ledger.ledger_total(db) == 0
