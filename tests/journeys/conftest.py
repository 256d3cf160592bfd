"""The running platform (web, broker, gateway, simulated meters) and one headless Chromium, shared by the journeys."""
import uuid
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from playwright.sync_api import sync_playwright
from sqlmodel import Session, select

from backend.core.clock import local_today
from backend.core.config import Settings
from backend.points.models import MeteringPoint, Outlet, Purpose
from backend.points.service import meter_of_point
from device_gateway.embedded_broker import free_port
from firmware_sim import loads
from scanpower.demo import APPLICANT, DemoMeter
from scanpower.platform import Platform
from scanpower.simulation import demo_loads
from tests.journeys.harness import CHROMIUM, CHROMIUM_ARGS
from tests.mqtt_tools import wait_for


def steady_loads(meter: DemoMeter) -> dict:
    """A 2 kW appliance on every stall outlet (the demo's lights and fridges may draw nothing for a while)."""
    if meter.purpose == Purpose.night_market:
        return {ch: loads.constant(2_000) for ch in range(1, meter.channels + 1)}
    return demo_loads(meter)


def running_site(_databases, broker_url, choose_loads=steady_loads, **settings):
    """`scanpower run` as a person meets it: the demo site, its meters simulated over MQTT; `settings` on top."""
    database_url = _databases.new()
    run = uuid.uuid4().hex[:8]
    port = free_port()
    chosen = Settings(database_url=database_url, mqtt_url=broker_url, mqtt_topic_prefix=f"spweb-{run}/v1",
                      gateway_client_id=f"gw-web-{run}", http_port=port, public_base_url=f"http://127.0.0.1:{port}",
                      secret_key=f"journeys-{run}-0123456789abcdefghijklmnop", command_timeout_seconds=10, **settings)
    platform = Platform(chosen, demo=True, simulate=True, choose_loads=choose_loads).start()
    try:
        yield platform
    finally:
        platform.stop()
        _databases.drop(database_url)


# Per module, not per session: the demo's simulated meters use fixed MQTT client ids (their serials), so two
# platforms alive at once on one broker would take each other's meters off (tests/test_end_to_end.py runs one).
@pytest.fixture(scope="module")
def site(_databases, broker_url):
    yield from running_site(_databases, broker_url)


@pytest.fixture(scope="module")
def market_outlets(site) -> list[str]:
    return night_market_outlets(site)


def night_market_outlets(site) -> list[str]:
    """The QR tokens of the night market's outlets, once its meter is online."""
    with Session(site.engine) as db:
        market = db.exec(select(MeteringPoint).where(MeteringPoint.purpose == Purpose.night_market)).first()
        tokens = list(db.exec(select(Outlet.qr_token).where(Outlet.point_id == market.id).order_by(Outlet.channel)))
    with httpx.Client(base_url=site.web_url) as http:
        wait_for(lambda: http.get(f"/api/v1/outlets/{tokens[0]}").status_code == 200 and _online(site),
                 what="the night market's simulated meter to come online")
    return tokens


def _online(site) -> bool:
    with Session(site.engine) as db:
        market = db.exec(select(MeteringPoint).where(MeteringPoint.purpose == Purpose.night_market)).first()
        return meter_of_point(db, market.id).online


@pytest.fixture(scope="session")
def chromium():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def api_sign_in(site, phone: str, password: str) -> dict:
    with httpx.Client(base_url=site.web_url) as http:
        answer = http.post("/api/v1/auth/token", data={"username": phone, "password": password})
        assert answer.status_code == 200, answer.text
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def apply_for_point(site, name: str, valid_days: int) -> int:
    """A one-outlet irrigation point applied for by the demo's applicant, through the API; its id."""
    today = local_today()
    body = {"name": name, "address": "江苏省兴化市", "latitude": 32.7, "longitude": 119.6, "purpose": "irrigation",
            "capacity_kw": "7.5", "outlet_count": 1, "valid_from": str(today),
            "valid_until": str(today + timedelta(days=valid_days))}
    with httpx.Client(base_url=site.web_url) as http:
        made = http.post("/api/v1/points", json=body, headers=api_sign_in(site, APPLICANT.phone, APPLICANT.password))
        assert made.status_code == 201, made.text
        return made.json()["id"]


def new_vendor(site, balance: Decimal = Decimal("20.00")) -> tuple[str, dict]:
    """A fresh vendor account with money in the wallet, through the API."""
    phone = f"137{uuid.uuid4().int % 10**8:08d}"
    with httpx.Client(base_url=site.web_url) as http:
        made = http.post("/api/v1/auth/signup", json={"phone": phone, "password": "vendor-secret-1", "role": "vendor"})
        assert made.status_code == 201, made.text
    headers = api_sign_in(site, phone, "vendor-secret-1")
    with httpx.Client(base_url=site.web_url) as http:
        assert http.post("/api/v1/wallet/top-ups", json={"amount": str(balance)}, headers=headers).status_code == 201
    return phone, headers
