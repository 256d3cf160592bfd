"""The whole loop over real HTTP and MQTT: scan → start → live energy → stop → receipt.

Runs on SQLite + the embedded broker by default, and on PostgreSQL + Mosquitto when
DATABASE_URL and MQTT_URL are set (as in CI).
"""
from decimal import ROUND_HALF_UP, Decimal

import httpx
import pytest

from firmware_sim import loads
from scanpower.demo import OPERATOR, VENDOR, VENDOR_STARTING_BALANCE
from scanpower.platform import Platform
from scanpower.simulation import demo_loads
from tests.mqtt_tools import wait_for


def strong_loads(meter):
    """An 8 kW pump on every outlet (the well's outlet is rated 32 A), so a small balance runs out in seconds."""
    return {ch: loads.constant(8_000) for ch in range(1, meter.channels + 1)}


@pytest.fixture
def platform(request, settings):
    choose = getattr(request, "param", demo_loads)
    settings.min_start_balance = Decimal("0.01")
    running = Platform(settings, demo=True, simulate=True, choose_loads=choose).start()
    yield running
    running.stop()


def sign_in(http: httpx.Client, phone: str, password: str) -> dict:
    answer = http.post("/api/v1/auth/token", data={"username": phone, "password": password})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def demo_point(http: httpx.Client, operator: dict, purpose: str = "night_market") -> tuple[dict, list[dict], dict]:
    point = next(p for p in http.get("/api/v1/points", headers=operator).json()["data"]
                 if p["purpose"] == purpose)
    outlets = http.get(f"/api/v1/points/{point['id']}/outlets", headers=operator).json()
    wait_for(lambda: http.get(f"/api/v1/points/{point['id']}/meter", headers=operator).json()["online"],
             what="the simulated meter to come online")
    meter = http.get(f"/api/v1/points/{point['id']}/meter", headers=operator).json()
    return point, outlets, meter


def session_until(http, headers, session_id, predicate, what, timeout=15):
    return wait_for(lambda: (s := http.get(f"/api/v1/sessions/{session_id}", headers=headers).json())
                    and predicate(s) and s, timeout=timeout, interval=0.2, what=what)


def test_scan_start_watch_stop_and_pay_exactly_for_the_register_delta(platform):
    with httpx.Client(base_url=platform.web_url, timeout=10) as http:
        operator = sign_in(http, OPERATOR.phone, OPERATOR.password)
        vendor = sign_in(http, VENDOR.phone, VENDOR.password)
        point, outlets, meter = demo_point(http, operator)
        outlet = outlets[0]
        token = outlet["qr_url"].rsplit("/", 1)[1]
        assert http.get(outlet["qr_url"].replace(platform.settings.public_base_url, "")).status_code == 200
        price = Decimal(http.get(f"/api/v1/outlets/{token}").json()["price_per_kwh"])
        register_before = platform.fleet.register_wh(meter["serial"], outlet["channel"])

        started = http.post("/api/v1/sessions", json={"outlet_token": token}, headers=vendor)
        assert started.status_code == 201, started.text
        session_id = started.json()["id"]
        active = session_until(http, vendor, session_id, lambda s: s["status"] == "active", "relay closed")
        assert active["start_register_wh"] == register_before
        first = session_until(http, vendor, session_id, lambda s: s["energy_wh"] > 0, "energy to rise")
        session_until(http, vendor, session_id, lambda s: s["energy_wh"] > first["energy_wh"], "energy to rise more")

        assert http.post(f"/api/v1/sessions/{session_id}/stop", headers=vendor).status_code == 200
        receipt = session_until(http, vendor, session_id, lambda s: s["status"] == "completed", "settlement")
        register_after = platform.fleet.register_wh(meter["serial"], outlet["channel"])

        assert receipt["energy_wh"] == register_after - register_before
        assert receipt["stop_register_wh"] == register_after
        expected = (Decimal(receipt["energy_wh"]) * price / 1000).quantize(Decimal("0.01"), ROUND_HALF_UP)
        assert Decimal(receipt["amount"]) == expected
        assert receipt["stop_reason"] == "vendor"
        wallet = http.get("/api/v1/wallet", headers=vendor).json()
        assert Decimal(wallet["balance"]) == VENDOR_STARTING_BALANCE - expected
        assert http.get(f"/sessions/{session_id}/receipt", headers=vendor).status_code == 200


@pytest.mark.parametrize("platform", [strong_loads], indirect=True)
def test_the_meter_cuts_power_when_the_money_runs_out(platform):
    with httpx.Client(base_url=platform.web_url, timeout=10) as http:
        operator = sign_in(http, OPERATOR.phone, OPERATOR.password)
        _, outlets, meter = demo_point(http, operator, "irrigation")
        signup = http.post("/api/v1/auth/signup", json={"phone": "13511112222", "password": "vendor-pass-1"})
        assert signup.status_code == 201, signup.text
        vendor = sign_in(http, "13511112222", "vendor-pass-1")
        assert http.post("/api/v1/wallet/top-ups", json={"amount": "0.01"}, headers=vendor).status_code == 201
        outlet = outlets[0]
        token = outlet["qr_url"].rsplit("/", 1)[1]
        before = platform.fleet.register_wh(meter["serial"], outlet["channel"])

        session_id = http.post("/api/v1/sessions", json={"outlet_token": token}, headers=vendor).json()["id"]
        done = session_until(http, vendor, session_id, lambda s: s["status"] == "completed", "limit cut-off",
                             timeout=30)

        assert done["stop_reason"] == "limit_reached"
        assert done["energy_wh"] == done["energy_limit_wh"]
        assert platform.fleet.register_wh(meter["serial"], outlet["channel"]) == before + done["energy_limit_wh"]
        assert Decimal(done["amount"]) <= Decimal("0.01")
        balance = Decimal(http.get("/api/v1/wallet", headers=vendor).json()["balance"])
        assert balance == Decimal("0.01") - Decimal(done["amount"]) >= 0


def test_healthz_says_alive_and_readyz_checks_database_broker_and_scheduler(platform):
    assert httpx.get(f"{platform.web_url}/healthz").json() == {"status": "ok"}
    # Ready once the scheduler's loop has looked at its jobs (within a second or so of starting).
    answer = wait_for(lambda: (a := httpx.get(f"{platform.web_url}/readyz")).status_code == 200 and a,
                      what="the platform to be ready")
    assert answer.json()["checks"] == {"database": True, "broker": True, "scheduler": True}
