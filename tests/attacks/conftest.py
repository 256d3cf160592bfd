"""Attacks on the money: many clients at once against a real HTTP server and the test database.

The meter's side is played by `MeterStandIn`, which answers the relay orders the API sent with
the meter's messages, through the same handler the gateway runs.
"""
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from sqlmodel import Session, select

from backend.app import create_app
from backend.core.clock import utcnow
from backend.core.db import unit_of_work
from backend.meters.orders import RecordingSink, RelayOrder
from backend.points import service as points
from backend.sessions.models import UsageSession
from backend.users.models import Role, User
from billing.ledger import service as ledger
from billing.ledger.models import LedgerAccount, Posting
from billing.wallet.service import wallet_balance
from device_gateway.handlers import handle
from device_gateway.protocol import Ack, SessionEnded, Topics, encode
from tests import factories
from tests.live_server import serve

PASSWORD = "password-123"  # what tests.factories.user gives everyone


HUNG_AFTER_S = 60


def at_once(calls: list[Callable[[], object]], timeout: float = HUNG_AFTER_S) -> list[object]:
    """Run every call in its own thread, released together; return their results (or exceptions) in order.

    A call still running after `timeout` seconds fails the test: a hung request is a finding, not a None.
    """
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(index: int, call: Callable[[], object]) -> None:
        barrier.wait()
        try:
            results[index] = call()
        except Exception as exc:  # the test inspects it
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i, c), daemon=True) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    hung = [index for index, thread in enumerate(threads) if thread.is_alive()]
    if hung:
        pytest.fail(f"{len(hung)} of {len(calls)} calls still running after {timeout:.0f} s: calls {hung}")
    return results


def tally(answers: list) -> str:
    """The answers as docs/security.md gives them: "2 × 201, 8 × 409 RefundNotPossible"; exceptions by name."""
    kinds = Counter(_kind(a) for a in answers)
    return ", ".join(f"{n} × {kind}" for kind, n in sorted(kinds.items()))


def _kind(answer) -> str:
    if isinstance(answer, httpx.Response):
        return f"{answer.status_code} {answer.json().get('error', '')}".strip() if answer.status_code >= 400 \
            else str(answer.status_code)
    if isinstance(answer, Exception):
        return type(answer).__name__
    return str(answer) if isinstance(answer, int) else "done"


def refusals(answers: list) -> Counter:
    """The error names of the 409 answers, counted."""
    return Counter(a.json()["error"] for a in answers if isinstance(a, httpx.Response) and a.status_code == 409)


class Api:
    """A signed-in client per call: each request gets its own connection, as separate phones would."""

    def __init__(self, base_url: str):
        self.base_url = base_url

    def token(self, user: User) -> dict[str, str]:
        answer = httpx.post(f"{self.base_url}/api/v1/auth/token", data={"username": user.phone, "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}

    def post(self, path: str, headers: dict[str, str], json: dict | None = None) -> httpx.Response:
        return httpx.post(f"{self.base_url}/api/v1{path}", headers=headers, json=json or {}, timeout=60)

    def get(self, path: str, headers: dict[str, str]) -> httpx.Response:
        return httpx.get(f"{self.base_url}/api/v1{path}", headers=headers, timeout=60)


@dataclass
class MeterStandIn:
    """Plays the meter: acknowledges relay orders and reports stops, through the gateway's handler."""

    engine: object
    sink: RecordingSink
    topics: Topics = field(default_factory=lambda: Topics("attack/v1"))
    register_wh: int = 100_000
    seq: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def orders(self, action: str) -> list[RelayOrder]:
        return [o for o in self.sink.sent if isinstance(o, RelayOrder) and o.action == action]

    def acknowledge_starts(self) -> list[RelayOrder]:
        """Say "ok" to every close order sent so far (once each)."""
        started = []
        for order in {o.cmd_id: o for o in self.orders("close")}.values():
            self.send("ack", Ack(cmd_id=order.cmd_id, action="close", ch=order.channel, session_id=order.session_id,
                                 result="ok", energy_wh=self.register_wh, boot_id="boot-1", seq=self._next(),
                                 ts=utcnow() - timedelta(hours=20)), order.meter_serial)
            started.append(order)
        return started

    def run_to_limit(self, order: RelayOrder) -> bytes:
        """The meter's own cut-off: the session used exactly its energy limit (the worst case for money)."""
        return self.message("event", SessionEnded(ch=order.channel, session_id=order.session_id,
                                                  reason="limit_reached", energy_wh=self.register_wh
                                                  + order.energy_limit_wh, boot_id="boot-1", seq=self._next(),
                                                  ts=utcnow()), order.meter_serial)

    def stop_ack(self, session: UsageSession, serial: str, used_wh: int) -> bytes:
        return self.message("ack", Ack(cmd_id=session.stop_cmd_id, action="open", ch=session.channel,
                                       session_id=session.id, result="ok", energy_wh=self.register_wh + used_wh,
                                       boot_id="boot-1", seq=self._next(), ts=utcnow()), serial)

    def message(self, kind: str, message, serial: str) -> tuple[str, bytes]:
        return self.topics.meter(serial, kind), encode(message)

    def send(self, kind: str, message, serial: str) -> None:
        self.deliver(*self.message(kind, message, serial))

    def deliver(self, topic: str, payload: bytes) -> None:
        with unit_of_work(self.engine, self.sink) as db:
            handle(db, self.topics, topic, payload)

    def _next(self) -> int:
        with self.lock:
            self.seq += 1
            return self.seq


@dataclass
class Scene:
    api: Api
    meter: MeterStandIn
    engine: object
    serial: str
    tokens: list[str]
    operator: User

    def vendor(self, balance: str) -> User:
        with Session(self.engine, expire_on_commit=False) as db:
            made = factories.user(db, Role.vendor, Decimal(balance))
            db.commit()
            return made

    def balance(self, user: User) -> Decimal:
        with Session(self.engine) as db:
            return wallet_balance(db, user.id)

    def sessions_of(self, user: User) -> list[UsageSession]:
        with Session(self.engine) as db:
            return list(db.exec(select(UsageSession).where(UsageSession.vendor_id == user.id)
                                .order_by(UsageSession.id)))

    def sessions_of_all(self) -> list[UsageSession]:
        with Session(self.engine) as db:
            return list(db.exec(select(UsageSession).order_by(UsageSession.id)))

    def ledger_total(self) -> Decimal:
        with Session(self.engine) as db:
            return ledger.ledger_total(db)


def make_scene(engine, base_url: str, sink: RecordingSink, outlets: int, price: str,
               service_fee: dict | None = None) -> Scene:
    with Session(engine, expire_on_commit=False) as db:
        tariff = factories.flat_tariff(db, Decimal(price), service_fee)
        point, meter = factories.active_point(db, outlets=outlets)
        point.tariff_id = tariff.id
        tokens = [o.qr_token for o in points.outlets_of_point(db, point.id)]
        operator = factories.user(db, Role.operator)
        db.commit()
        serial = meter.serial
    return Scene(Api(base_url), MeterStandIn(engine, sink), engine, serial, tokens, operator)


@pytest.fixture
def live(settings, engine):
    """The API over real HTTP, with the demo payment provider; orders are recorded, not published."""
    sink = RecordingSink()
    app = create_app(settings, engine, sink, lambda: True)
    with serve(app) as base_url:
        yield base_url, sink


@pytest.fixture
def scene_factory(engine, live):
    base_url, sink = live

    def build(outlets: int = 8, price: str = "1.00", service_fee: dict | None = None) -> Scene:
        return make_scene(engine, base_url, sink, outlets, price, service_fee)
    return build


@pytest.fixture(autouse=True)
def books_balance_after_each_attack(engine):
    yield
    with Session(engine) as db:
        assert ledger.ledger_total(db) == 0
        assert wallets_below_zero(db) == {}


def wallets_below_zero(db: Session) -> dict[str, Decimal]:
    """Every wallet whose balance was ever below zero, with its lowest balance, from its postings in order.

    Postings to one wallet are written under its lock, so their ids follow the order they were committed in."""
    rows = db.exec(select(LedgerAccount.code, Posting.amount).join(Posting, Posting.account_id == LedgerAccount.id)
                   .where(LedgerAccount.kind == "vendor_wallet").order_by(Posting.id))
    running: dict[str, Decimal] = {}
    lowest: dict[str, Decimal] = {}
    for code, amount in rows:
        running[code] = running.get(code, Decimal(0)) + amount
        if running[code] < 0:
            lowest[code] = min(lowest.get(code, Decimal(0)), running[code])
    return lowest


def new_key() -> str:
    return uuid.uuid4().hex
