"""A meter written from docs/protocol.md alone — plain dicts, no project code — runs a session."""
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from scanpower.demo import OPERATOR, VENDOR
from scanpower.platform import Platform
from tests.mqtt_tools import TestClient, wait_for


def now(minutes_ago: int = 0) -> str:
    moment = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class HandWrittenMeter:
    def __init__(self, broker_url: str, prefix: str, serial: str):
        self.base = f"{prefix}/m/{serial}"
        self.mqtt = TestClient(broker_url, serial, [f"{self.base}/cmd"])
        self.seq = 0
        self.register = 52_000
        self.limits: dict | None = None

    def send(self, kind: str, body: dict, retain: bool = False) -> None:
        if kind != "status":
            body |= {"boot_id": "doc-meter-1", "seq": self.seq}
            self.seq += 1
        self.mqtt.publish(f"{self.base}/{kind}", json.dumps({"v": 1} | body).encode(), retain=retain)

    def answer_next_command(self, minutes_ago: int = 0) -> dict:
        command = json.loads(self.mqtt.next()[1])
        while command["action"] in ("configure", "confirm_end"):  # neither is acknowledged
            self.limits = command if command["action"] == "configure" else self.limits
            command = json.loads(self.mqtt.next()[1])
        self.send("ack", {"cmd_id": command["cmd_id"], "action": command["action"], "ch": command["ch"],
                          "session_id": command["session_id"], "result": "ok", "energy_wh": self.register,
                          "ts": now(minutes_ago)})
        return command

    def telemetry(self, relay: str, session_id: int | None, minutes_ago: int = 0) -> None:
        outlet = {"ch": 1, "energy_wh": self.register, "power_w": 5500.0, "voltage_v": 228.4,
                  "current_a": 24.1, "relay": relay}
        reading = outlet | ({"session_id": session_id} if session_id else {})
        self.send("telemetry", {"ts": now(minutes_ago), "outlets": [reading]})


@pytest.fixture
def platform(settings):
    running = Platform(settings, demo=True, simulate=False).start()
    yield running
    running.stop()


def test_a_meter_built_from_the_document_serves_a_whole_session(platform):
    irrigation = next(m for m in platform.demo_meters if m.channels == 1)
    meter = HandWrittenMeter(platform.broker_url, platform.settings.mqtt_topic_prefix, irrigation.serial)
    meter.send("status", {"state": "online", "boot_id": "doc-meter-1", "ts": now()}, retain=True)
    with httpx.Client(base_url=platform.web_url, timeout=10) as http:
        token = lambda who: {"Authorization": "Bearer " + http.post(  # noqa: E731
            "/api/v1/auth/token", data={"username": who.phone, "password": who.password}).json()["access_token"]}
        operator, vendor = token(OPERATOR), token(VENDOR)
        point = next(p for p in http.get("/api/v1/points", headers=operator).json()["data"]
                     if p["purpose"] == "irrigation")
        wait_for(lambda: http.get(f"/api/v1/points/{point['id']}/meter", headers=operator).json()["online"])
        outlet = http.get(f"/api/v1/points/{point['id']}/outlets", headers=operator).json()[0]
        started = http.post("/api/v1/sessions", json={"outlet_token": outlet["qr_url"].rsplit("/", 1)[1]},
                            headers=vendor).json()

        # The meter's clock says the session began half an hour ago: 1.24 kWh in 30 min is a 2.5 kW pump.
        close = meter.answer_next_command(minutes_ago=30)
        assert close["action"] == "close" and close["session_id"] == started["id"] and close["energy_limit_wh"] > 0
        meter.register += 1234
        meter.telemetry("closed", started["id"], minutes_ago=15)
        wait_for(lambda: http.get(f"/api/v1/sessions/{started['id']}", headers=vendor).json()["energy_wh"] == 1234)

        http.post(f"/api/v1/sessions/{started['id']}/stop", headers=vendor)
        meter.register += 6
        assert meter.answer_next_command()["action"] == "open"
        done = wait_for(lambda: (s := http.get(f"/api/v1/sessions/{started['id']}", headers=vendor).json())
                        ["status"] == "completed" and s)
    meter.mqtt.close()
    assert (done["start_register_wh"], done["stop_register_wh"], done["energy_wh"]) == (52_000, 53_240, 1240)
    # On connecting, the meter was told its limits: the well's 32 A outlet and the point's 11 kW.
    assert meter.limits["outlets"] == [{"ch": 1, "max_power_w": 7360.0}]
    assert meter.limits["max_total_power_w"] == 11000.0
