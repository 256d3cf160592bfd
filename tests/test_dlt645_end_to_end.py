"""The whole loop on a DL/T 645-2007 meter behind a 4G DTU, over real HTTP and MQTT: scan → Start → usage → Stop →
receipt, billed exactly the register delta; then the faults of a rural bus and link.

The demo's tea yard is two simulated DL/T 645 meters behind one simulated DTU, played to the platform by the
bridge. Runs on SQLite + the embedded broker, and on PostgreSQL + Mosquitto when DATABASE_URL and MQTT_URL are set.
"""
from decimal import ROUND_HALF_UP, Decimal

import httpx
import pytest
from sqlmodel import Session, col, select

from backend.alarms.models import Alarm
from backend.alarms.rules import AlarmKind
from billing.ledger.service import ledger_total
from device_gateway.dlt645.limit import margin_wh
from firmware_sim import loads
from firmware_sim.dlt645.dtu import DtuFaults
from scanpower.demo import OPERATOR, VENDOR, VENDOR_STARTING_BALANCE
from scanpower.platform import Platform
from tests.mqtt_tools import wait_for
from tests.test_end_to_end import session_until, sign_in

TEA = "tea_processing"


def tea_loads(meter):
    """A 3 kW roasting pan on each tea-yard outlet (rated 16 A: 3680 W), 8 kW pumps elsewhere."""
    watts = 3_000 if meter.purpose == TEA else 8_000
    return {ch: loads.constant(watts) for ch in range(1, meter.channels + 1)}


def heavy_tea_loads(meter):
    """4.4 kW: just within the outlet's overload limit (3680 W × 1.2), so a small limit is reached in seconds."""
    watts = 4_400 if meter.purpose == TEA else 8_000
    return {ch: loads.constant(watts) for ch in range(1, meter.channels + 1)}


@pytest.fixture
def platform(request, settings):
    settings.min_start_balance = Decimal("0.01")
    fast = settings.model_copy(update=dict(dlt645_poll_seconds=Decimal("0.3"), dlt645_timeout_seconds=Decimal("0.6"),
                                           dlt645_retries=5, dlt645_idle_poll_seconds=1.0,
                                           dlt645_silent_after_seconds=3.0))
    choose = getattr(request, "param", tea_loads)
    running = Platform(fast, demo=True, simulate=True, choose_loads=choose, dtu_heartbeat_s=0.5).start()
    yield running
    running.stop()


@pytest.fixture
def http(platform):
    with httpx.Client(base_url=platform.web_url, timeout=10) as client:
        yield client


class TeaYard:
    """The demo's DL/T 645 point as the test drives it: its outlets, its simulated DTU and meters."""

    def __init__(self, platform, http):
        self.platform, self.http = platform, http
        self.operator = sign_in(http, OPERATOR.phone, OPERATOR.password)
        self.vendor = sign_in(http, VENDOR.phone, VENDOR.password)
        self.point = next(p for p in http.get("/api/v1/points", headers=self.operator).json()["data"]
                          if p["purpose"] == TEA)
        self.outlets = http.get(f"/api/v1/points/{self.point['id']}/outlets", headers=self.operator).json()
        [self.dtu] = platform.dtus
        wait_for(self.online, timeout=30, what="the bridged meter to come online")

    def online(self) -> bool:
        return self.http.get(f"/api/v1/points/{self.point['id']}/meter", headers=self.operator).json()["online"]

    def token(self, channel: int) -> str:
        return self.outlets[channel - 1]["qr_url"].rsplit("/", 1)[1]

    def meter(self, channel: int):
        return self.dtu.meter(sorted(self.dtu.meters)[channel - 1])

    def start(self, channel: int, headers=None):
        return self.http.post("/api/v1/sessions", json={"outlet_token": self.token(channel)},
                              headers=headers or self.vendor)

    def session(self, session_id: int, predicate, what: str, timeout: float = 60, headers=None) -> dict:
        return session_until(self.http, headers or self.vendor, session_id, predicate, what, timeout)


@pytest.fixture
def tea(platform, http) -> TeaYard:
    return TeaYard(platform, http)


def run_and_stop(tea: TeaYard, channel: int = 1, counts: int = 2) -> tuple[dict, int, int]:
    """Start, let the register advance `counts` × 10 Wh, stop; the receipt and the meter's own registers."""
    meter = tea.meter(channel)
    before = meter.register_wh
    started = tea.start(channel)
    assert started.status_code == 201, started.text
    session_id = started.json()["id"]
    active = tea.session(session_id, lambda s: s["status"] == "active", "the relay to close")
    assert active["start_register_wh"] == before
    wait_for(lambda: meter.register_wh >= before + 10 * counts, timeout=30, what="the meter to count")
    tea.session(session_id, lambda s: s["energy_wh"] > 0, "live energy")
    assert tea.http.post(f"/api/v1/sessions/{session_id}/stop", headers=tea.vendor).status_code == 200
    receipt = tea.session(session_id, lambda s: s["status"] == "completed", "settlement")
    assert meter.relay_open
    return receipt, before, meter.register_wh


def assert_exact(receipt: dict, before: int, after: int) -> None:
    assert (receipt["start_register_wh"], receipt["stop_register_wh"]) == (before, after)
    assert receipt["energy_wh"] == after - before and receipt["energy_wh"] % 10 == 0
    price = Decimal(receipt["price_per_kwh"])
    assert Decimal(receipt["amount"]) == (Decimal(receipt["energy_wh"]) * price / 1000).quantize(Decimal("0.01"),
                                                                                                ROUND_HALF_UP)


def books_balance(platform) -> None:
    with Session(platform.engine) as db:
        assert ledger_total(db) == 0


def test_scan_start_use_stop_and_pay_exactly_the_register_delta(tea):
    receipt, before, after = run_and_stop(tea)
    assert_exact(receipt, before, after)
    assert receipt["stop_reason"] == "vendor" and not receipt["needs_review"]
    wallet = tea.http.get("/api/v1/wallet", headers=tea.vendor).json()
    assert Decimal(wallet["balance"]) == VENDOR_STARTING_BALANCE - Decimal(receipt["amount"])
    assert tea.http.get(f"/sessions/{receipt['id']}/receipt", headers=tea.vendor).status_code == 200
    books_balance(tea.platform)


def test_dropped_split_merged_and_corrupted_frames_still_bill_exactly(tea):
    # One reply in five lost or mangled; five retries make a failed request about 1 in 40 000 (0.19 ** 6).
    tea.dtu.faults = DtuFaults(drop_rate=0.1, split_rate=0.5, merge_rate=0.05, corrupt_rate=0.05)
    receipt, before, after = run_and_stop(tea, channel=2)
    assert_exact(receipt, before, after)
    bus = tea.platform.bridge.meters[tea.dtu.dtu_id].bus.bus
    assert bus.timeouts > 0  # the faults did happen, and were survived
    books_balance(tea.platform)


def test_a_relay_that_does_not_switch_refuses_the_start_and_charges_nothing(tea):
    tea.meter(1).stuck = True
    session_id = tea.start(1).json()["id"]
    failed = tea.session(session_id, lambda s: s["status"] == "failed", "the start to be refused")
    assert "relay did not switch" in failed["failure_reason"]
    assert Decimal(tea.http.get("/api/v1/wallet", headers=tea.vendor).json()["balance"]) == VENDOR_STARTING_BALANCE
    assert tea.meter(1).relay_open


def poor_vendor(http, amount: str = "0.02") -> dict:
    """A vendor whose money buys a few tens of Wh (¥0.02 at ¥0.509/kWh: 39 Wh)."""
    answer = http.post("/api/v1/auth/signup", json={"phone": "13522223333", "password": "vendor-pass-2"})
    assert answer.status_code == 201, answer.text
    poor = sign_in(http, "13522223333", "vendor-pass-2")
    assert http.post("/api/v1/wallet/top-ups", json={"amount": amount}, headers=poor).status_code == 201
    return poor


@pytest.mark.parametrize("platform", [heavy_tea_loads], indirect=True)
def test_the_bridge_trips_before_the_money_runs_out(tea, http):
    poor = poor_vendor(http)
    meter = tea.meter(1)
    before = meter.register_wh
    session_id = tea.start(1, poor).json()["id"]
    done = tea.session(session_id, lambda s: s["status"] == "completed", "the limit trip", timeout=60, headers=poor)
    timing = tea.platform.bridge.timing.poll
    assert done["stop_reason"] == "limit_reached" and meter.relay_open
    assert done["energy_wh"] == done["stop_register_wh"] - before == meter.register_wh - before
    assert done["energy_wh"] <= done["energy_limit_wh"] + margin_wh(Decimal("3680"), timing)
    assert done["energy_wh"] <= done["energy_limit_wh"]  # the margin trips it early, not late
    assert Decimal(done["amount"]) <= Decimal(done["max_amount"]) <= Decimal("0.02")
    balance = Decimal(http.get("/api/v1/wallet", headers=poor).json()["balance"])
    assert balance == Decimal("0.02") - Decimal(done["amount"]) >= 0
    books_balance(tea.platform)


@pytest.mark.parametrize("platform", [heavy_tea_loads], indirect=True)
def test_a_dtu_gone_silent_takes_the_meter_offline_and_its_return_bills_the_registers(tea, http):
    poor = poor_vendor(http)
    meter = tea.meter(1)
    before = meter.register_wh
    session_id = tea.start(1, poor).json()["id"]
    limit = tea.session(session_id, lambda s: s["status"] == "active", "the relay to close",
                        headers=poor)["energy_limit_wh"]
    tea.dtu.go_offline()  # before the first count: the bridge has had no reason to trip yet
    wait_for(lambda: not tea.online(), timeout=15, what="the meter to go offline")
    refused = tea.start(2)
    assert (refused.status_code, refused.json()["error"]) == (409, "MeterOffline")
    assert open_silence_alarms(tea.platform) == 1
    # Meanwhile the relay stays closed and the meter counts past the session's limit: nobody can trip it.
    wait_for(lambda: meter.register_wh > before + limit, timeout=60, what="the register to pass the limit")
    tea.dtu.come_back()
    wait_for(tea.online, timeout=15, what="the meter to come back")
    done = tea.session(session_id, lambda s: s["status"] == "completed", "the session to end on return",
                       headers=poor)
    assert meter.relay_open
    assert done["stop_register_wh"] == meter.register_wh and done["energy_wh"] == meter.register_wh - before
    assert done["energy_wh"] > limit and done["needs_review"]
    assert done["stop_reason"] == "limit_reached"
    assert Decimal(done["amount"]) <= Decimal(done["max_amount"]) <= Decimal("0.02")
    wait_for(lambda: open_silence_alarms(tea.platform) == 0, timeout=10, what="the DTU-silent alarm to close")
    books_balance(tea.platform)


def open_silence_alarms(platform) -> int:
    with Session(platform.engine) as db:
        return len(db.exec(select(Alarm).where(Alarm.kind == AlarmKind.dtu_silent, col(Alarm.closed_at).is_(None)))
                   .all())
