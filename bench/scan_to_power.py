"""Scan to power: HTTP Start → session active (the meter's ack stored), and Stop → receipt, p50/p95/p99.

Against the same run's baseline, a bare MQTT round trip through the same broker (QoS 1 there and
back). Measured idle, then with a fleet of simulated meters reporting (`scanpower sim` in its own
process, every 15 s). The platform runs as deployed: `scanpower gateway` and `scanpower api`, each in
its own process, on a Mosquitto configured as `scanpower broker-config` writes it. The vendor's meter
is a simulated meter in this process that answers the commands. Each run checks its own result:
every session started, stopped and was settled from the meter's registers (stop − start).

Run:  PYTHONPATH=. .venv/bin/python bench/scan_to_power.py [--database-url postgresql+psycopg://…] \\
          [--fleet 5000] [--sessions 40]
"""
import argparse
import os
import subprocess
import sys
import threading
import time
import uuid
from decimal import Decimal
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlmodel import Session

from backend.core.db import make_engine
from backend.points.service import outlets_of_point
from backend.users.models import Role
from bench.broker_and_database import bulk_fleet, fresh_database, mosquitto, wait
from device_gateway.broker_url import BrokerAddress
from device_gateway.embedded_broker import free_port
from firmware_sim.fleet import Fleet
from firmware_sim.loads import constant
from tests import factories

REPO = Path(__file__).resolve().parents[1]
PASSWORD = "password-123"  # what tests.factories.user gives everyone


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    at = lambda q: ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000  # noqa: E731
    return f"p50 {at(0.5):7.1f} ms  p95 {at(0.95):7.1f} ms  p99 {at(0.99):7.1f} ms  max {ordered[-1] * 1000:7.1f} ms"


def mqtt_round_trips(broker: str, count: int) -> list[float]:
    """Publish (QoS 1) to an echo client that answers (QoS 1); time each answer."""
    address = BrokerAddress.parse(broker)
    topic, answer = f"rtt/{uuid.uuid4().hex[:6]}/ping", f"rtt/{uuid.uuid4().hex[:6]}/pong"
    got = threading.Event()

    def client(name, on_message, subscribe):
        made = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{name}-{uuid.uuid4().hex[:6]}")
        ready = threading.Event()
        made.on_subscribe = lambda *_: ready.set()
        made.on_message = on_message
        made.connect(address.host, address.port)
        made.loop_start()
        made.subscribe(subscribe, 1)
        ready.wait(10)
        return made

    echo = client("echo", lambda c, u, m: c.publish(answer, m.payload, 1), topic)
    asker = client("ask", lambda *_: got.set(), answer)
    samples = []
    for _ in range(count):
        got.clear()
        started = time.perf_counter()
        asker.publish(topic, b"ping", 1)
        got.wait(10)
        samples.append(time.perf_counter() - started)
    for made in (echo, asker):
        made.disconnect()
        made.loop_stop()
    return samples


class Platform:
    """`scanpower gateway` and `scanpower api` in their own processes."""

    def __init__(self, url: str, broker: str, prefix: str):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = os.environ | {"DATABASE_URL": url, "MQTT_URL": broker, "MQTT_TOPIC_PREFIX": prefix,
                            "GATEWAY_CLIENT_ID": f"gw-{uuid.uuid4().hex[:6]}", "LOG_LEVEL": "WARNING",
                            "HTTP_PORT": str(self.port), "SECRET_KEY": "bench-secret-of-at-least-32-bytes!!",
                            "PYTHONPATH": str(REPO), "COMMAND_TIMEOUT_SECONDS": "30"}
        quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        self.processes = [subprocess.Popen([sys.executable, "-m", "scanpower.cli", "gateway", "--no-scheduler"],
                                           **quiet),
                          subprocess.Popen([sys.executable, "-m", "scanpower.cli", "api"], **quiet)]
        wait(lambda: _answers(f"{self.base}/healthz"), 60, "the API")

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.wait(20)


def _answers(address: str) -> bool:
    try:
        return httpx.get(address, timeout=1).status_code in (200, 503)
    except httpx.HTTPError:
        return False


def scan_to_power(platform: Platform, token: str, auth: dict, count: int) -> tuple[list[float], list[float]]:
    """Start → active and Stop → receipt, `count` times on one outlet, polling every 2 ms."""
    starts, stops = [], []
    with httpx.Client(base_url=f"{platform.base}/api/v1", headers=auth, timeout=30) as http:
        for _ in range(count):
            began = time.perf_counter()
            session = http.post("/sessions", json={"outlet_token": token}).json()
            wait(lambda: http.get(f"/sessions/{session['id']}").json()["status"] == "active", 30,
                 "the session to be active", every=0.002)
            starts.append(time.perf_counter() - began)
            time.sleep(0.2)
            began = time.perf_counter()
            http.post(f"/sessions/{session['id']}/stop")
            wait(lambda: http.get(f"/sessions/{session['id']}/receipt").status_code == 200, 30, "the receipt",
                 every=0.002)
            stops.append(time.perf_counter() - began)
            receipt = http.get(f"/sessions/{session['id']}/receipt").json()
            assert receipt["session"]["energy_wh"] == (receipt["session"]["stop_register_wh"]
                                                       - receipt["session"]["start_register_wh"]) >= 0
    return starts, stops


def vendor_site(url: str) -> tuple[str, str, str]:
    """The vendor's point (one outlet), and the vendor; returns (meter serial, outlet token, vendor phone)."""
    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as db:
        point, meter = factories.active_point(db, outlets=1, price=Decimal("1.00"),
                                              outlet_rated_current_a=Decimal("32"))
        vendor = factories.user(db, Role.vendor, Decimal("1000.00"))
        token = outlets_of_point(db, point.id)[0].qr_token
        db.commit()
    engine.dispose()
    return meter.serial, token, vendor.phone


def run(args) -> list[str]:
    lines = []
    with mosquitto() as broker, fresh_database(args.database_url) as url:
        prefix = f"bench-{uuid.uuid4().hex[:6]}/v1"
        serial, token, phone = vendor_site(url)
        if args.fleet:
            bulk_fleet(url, args.fleet, 2, "BF")
        vendor_meter = Fleet(BrokerAddress.parse(broker), prefix, active_interval=1.0, idle_interval=15.0, tick=0.005)
        vendor_meter.add_meter(serial, 1, loads={1: constant(3_000)})
        vendor_meter.start()
        platform = Platform(url, broker, prefix)
        try:
            wait(lambda: vendor_meter.wait_connected(1), 20, "the vendor's meter")
            auth = {"Authorization": "Bearer " + httpx.post(f"{platform.base}/api/v1/auth/token",
                                                             data={"username": phone, "password": PASSWORD}
                                                             ).json()["access_token"]}
            time.sleep(2)  # the meter's first status and configure
            lines.append(f"MQTT round trip, idle:           {percentiles(mqtt_round_trips(broker, args.sessions))}")
            starts, stops = scan_to_power(platform, token, auth, args.sessions)
            lines.append(f"Start → active, idle:            {percentiles(starts)}")
            lines.append(f"Stop → receipt, idle:            {percentiles(stops)}")
            print("\n".join(lines), flush=True)
            if args.fleet:
                fleet = subprocess.Popen([sys.executable, "-m", "scanpower.cli", "sim", "--count", str(args.fleet),
                                          "--channels", "2", "--serial-prefix", "BF", "--mqtt-url", broker],
                                         env=os.environ | {"MQTT_TOPIC_PREFIX": prefix, "LOG_LEVEL": "WARNING",
                                                           "PYTHONPATH": str(REPO)},
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                try:
                    time.sleep(args.warm_up)
                    rtt = mqtt_round_trips(broker, args.sessions)
                    starts, stops = scan_to_power(platform, token, auth, args.sessions)
                finally:
                    fleet.terminate()
                    fleet.wait(30)
                loaded = f"with {args.fleet:,} meters reporting"
                lines.append(f"MQTT round trip, {loaded}: {percentiles(rtt)}")
                lines.append(f"Start → active, {loaded}:  {percentiles(starts)}")
                lines.append(f"Stop → receipt, {loaded}:  {percentiles(stops)}")
        finally:
            platform.stop()
            vendor_meter.stop()
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="", help="a PostgreSQL server (a database is made and dropped); "
                                                           "empty: a temporary SQLite file")
    parser.add_argument("--fleet", type=int, default=5000, help="meters reporting in the background (0: none)")
    parser.add_argument("--sessions", type=int, default=40)
    parser.add_argument("--warm-up", type=float, default=20.0, help="seconds the fleet reports before measuring")
    args = parser.parse_args()
    print("\n".join(run(args)))


if __name__ == "__main__":
    main()
