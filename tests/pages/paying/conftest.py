"""A vendor's phone on the pages, paying through WeChat Pay and Alipay (local fakes speaking their HTTP APIs) and
a card (localstripe), with the real SDKs on our side; the meter played by hand, the scheduler's jobs run by the
test. On PostgreSQL when DATABASE_URL is set, like every test that takes `engine`."""
import re
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from backend.app import API_PREFIX, create_app
from backend.core.clock import utcnow
from backend.core.config import Settings
from backend.core.db import unit_of_work
from backend.core.security import create_access_token
from backend.deps import COOKIE_NAME
from backend.meters.orders import RecordingSink
from backend.points import service as points
from backend.points.models import Meter
from backend.sessions import meter_events
from backend.sessions import service as sessions
from backend.sessions.models import UsageSession
from backend.sessions.settlement import capture_settled_holds, refund_unused_prepayments
from backend.users.models import Role, User
from billing.ledger import service as ledger
from billing.payments.providers import Providers
from billing.payments.stripe_provider import StripeProvider
from tests import factories
from tests.billing.fakes.alipay import FakeAlipay
from tests.billing.fakes.configured import SITE, alipay_provider, wechat_provider
from tests.billing.fakes.wechat import Delivery, FakeWeChatPay
from tests.billing.stripe import localstripe
from tests.billing.stripe.stripe_support import SECRET_KEY, WEBHOOK_SECRET
from tests.browser import browser

localstripe_url = localstripe.localstripe_url  # a fixture: the session's localstripe
IN_WECHAT = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 " \
            "MicroMessenger/8.0.47(0x18002f2c) NetType/4G Language/zh_CN"
IN_ALIPAY = "Mozilla/5.0 (Linux; Android 13; V2217A) AppleWebKit/537.36 Chrome/110.0 Mobile Safari/537.36 " \
            "AlipayDefined(nt:4G,ws:393|0|2.75) AliApp(AP/10.5.36.8100) AlipayClient/10.5.36.8100 Language/zh-Hans"
PHONE_BROWSER = "Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36"


@dataclass
class Stall:
    """A night-market stall: its outlet, the vendor's phone on the pages, the payment services behind them."""

    phone: TestClient
    engine: object
    sink: RecordingSink
    wechat: FakeWeChatPay
    alipay: FakeAlipay
    providers: Providers
    settings: Settings
    vendor_id: int
    tokens: list[str]
    agent: str = PHONE_BROWSER
    services: TestClient = field(default=None)  # the providers' own servers, posting notifications

    def get(self, path: str, **options):
        return self.phone.get(path, headers={"User-Agent": self.agent}, **options)

    def post(self, path: str, data: dict, **options):
        return self.phone.post(path, data=data, headers={"User-Agent": self.agent}, follow_redirects=False, **options)

    def start(self, pay_with: str, amount: str | None = "20.00", outlet: int = 0):
        """Open the outlet's page, choose how to pay, press Start: the answer, not followed."""
        page = self.get(f"/s/{self.tokens[outlet]}").text
        data = {"pay_with": pay_with, "request_key": form_key(page, "start-form")}
        if amount is not None:
            data[f"amount_{pay_with}"] = amount
        return self.post(f"/s/{self.tokens[outlet]}/start", data)

    def top_up(self, pay_with: str, preset: str, back: str = "/me"):
        page = self.get(back).text
        return self.post("/wallet/top-up", {"pay_with": pay_with, "preset": preset, "next": back,
                                            "request_key": form_key(page, "top-up")})

    def follow(self, answer):
        """Follow our own redirects as the phone would, stopping at a page or at an address outside the site."""
        while answer.status_code in (302, 303) and answer.headers["location"].startswith("/"):
            answer = self.get(answer.headers["location"], follow_redirects=False)
        return answer

    def to_wechat(self, delivery: Delivery):
        answer = self.services.post(f"{API_PREFIX}/webhooks/wechat", content=delivery.body, headers=delivery.headers)
        assert answer.status_code == 200, answer.text
        return answer

    def to_alipay(self, body: bytes):
        answer = self.services.post(f"{API_PREFIX}/webhooks/alipay", content=body,
                                    headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert answer.text == "success", answer.text
        return answer

    def use(self, session_id: int, used_wh: int) -> UsageSession:
        """The meter confirms the start; later it reports `used_wh` at the vendor's Stop (pressed on the page)."""
        with unit_of_work(self.engine, self.sink) as db:
            session = db.get(UsageSession, session_id)
            meter_events.command_acknowledged(db, db.get(Meter, session.meter_id), session.start_cmd_id, "close", True,
                                              None, 1_000, utcnow() - timedelta(hours=3), "b", 1)
        stopped = self.post(f"/sessions/{session_id}/stop", {"next": f"/sessions/{session_id}"})
        assert stopped.status_code == 303
        with unit_of_work(self.engine, self.sink) as db:
            session = db.get(UsageSession, session_id)
            meter_events.command_acknowledged(db, db.get(Meter, session.meter_id), session.stop_cmd_id, "open", True,
                                              None, 1_000 + used_wh, utcnow(), "b", 2)
        with Session(self.engine) as db:
            return db.get(UsageSession, session_id)

    def settle_money(self) -> None:
        """The scheduler's money jobs: capture holds, send back what sessions paid ahead did not use."""
        self.run(lambda db: capture_settled_holds(db, self.providers))
        self.run(lambda db: refund_unused_prepayments(db, self.providers))

    def run(self, work):
        with unit_of_work(self.engine, self.sink) as db:
            return work(db)

    def ledger_total(self) -> Decimal:
        with Session(self.engine) as db:
            return ledger.ledger_total(db)


def form_key(page: str, form_class: str) -> str:
    """The request key the named form was rendered with."""
    form = page[page.index(f'class="{form_class}"'):]
    return re.search(r'name="request_key" value="([0-9a-f]{32})"', form).group(1)


def order_of_redirect(location: str) -> str:
    """Our order number in WeChat's h5_url (its redirect_url back to our waiting page)."""
    back = unquote(parse_qs(urlsplit(location).query)["redirect_url"][0])
    assert back.startswith(f"{SITE}/pay/"), back
    return back.rsplit("/", 1)[1]


def visible(html: str) -> str:
    """The page's text without tags, spaces collapsed: what the vendor reads."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _stall(database_url, engine, wechat, alipay, stripe_url, *, payscore: bool, preauth: bool, language: str):
    settings = Settings(database_url=database_url, secret_key="paying-pages-secret-of-at-least-32-bytes",
                        public_base_url=SITE, command_timeout_seconds=30)
    card = StripeProvider(SECRET_KEY, WEBHOOK_SECRET, api_base=stripe_url, currency="cny")
    providers = Providers(card, wechat_provider(wechat, payscore), alipay_provider(alipay, preauth))
    sink = RecordingSink()
    app = create_app(settings, engine, sink, lambda: True, payment_provider=providers)
    with Session(engine, expire_on_commit=False) as db:
        vendor = factories.user(db, Role.vendor)
        point, _ = factories.active_point(db, outlets=2, price=Decimal("1.0000"), outlet_rated_current_a=Decimal("32"))
        tokens = [o.qr_token for o in points.outlets_of_point(db, point.id)]
        db.commit()
    phone = browser(app, language)
    phone.cookies.set(COOKIE_NAME, create_access_token(vendor.id, settings.jwt_secret(), 30), domain="testserver.local")
    return Stall(phone, engine, sink, wechat, alipay, providers, settings, vendor.id, tokens,
                 services=TestClient(app))


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


@pytest.fixture
def stall(database_url, engine, fake_wechat, fake_alipay, localstripe_url):
    """Sessions paid ahead in WeChat Pay and Alipay, or held on a card; English pages."""
    made = _stall(database_url, engine, fake_wechat, fake_alipay, localstripe_url, payscore=False, preauth=False,
                  language="en")
    with made.phone:
        yield made


@pytest.fixture
def holding_stall(database_url, engine, fake_wechat, fake_alipay, localstripe_url):
    """The merchant has 微信支付分 and 支付宝资金预授权; Chinese pages."""
    made = _stall(database_url, engine, fake_wechat, fake_alipay, localstripe_url, payscore=True, preauth=True,
                  language="zh-CN")
    with made.phone:
        yield made


@pytest.fixture(autouse=True)
def books_balance_after_each_scenario(engine):
    yield
    with Session(engine) as db:
        assert ledger.ledger_total(db) == 0


def vendor_of(stall: Stall) -> User:
    with Session(stall.engine) as db:
        return db.get(User, stall.vendor_id)


def sessions_of(stall: Stall) -> list[UsageSession]:
    with Session(stall.engine) as db:
        return sessions.list_sessions(db, db.get(User, stall.vendor_id))
