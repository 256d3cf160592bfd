"""A commissioned point whose meter is two simulated DL/T 645 meters behind a simulated DTU, and the bridge."""
import json
import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from sqlmodel import Session

from backend.core.clock import utcnow
from backend.dtu.models import DtuCommission
from backend.dtu.service import commission
from backend.points.models import Meter
from backend.users.models import Role
from device_gateway.broker_url import BrokerAddress
from device_gateway.dlt645.bridge import Bridge
from device_gateway.dlt645.bridged_meter import BridgeTiming
from device_gateway.dlt645.limit import PollTiming
from device_gateway.protocol import Command, Topics, encode
from firmware_sim.dlt645.dtu import SimulatedDtu
from firmware_sim.dlt645.meter import Dlt645Meter
from tests import factories
from tests.mqtt_tools import TestClient, wait_for

ADDRESSES = ("000000001201", "000000001202")
PASSWORD = "02345678"
# Fast enough for tests, slow enough for a loaded CI machine to answer within the timeout.
FAST = BridgeTiming(PollTiming(Decimal("0.2"), Decimal("0.5"), 2, Decimal("0.2")), idle_interval_s=0.5,
                    silent_after_s=2.0)
FAULTY = BridgeTiming(PollTiming(Decimal("0.2"), Decimal("0.5"), 5, Decimal("0.2")), idle_interval_s=0.5,
                      silent_after_s=5.0)


@dataclass
class BridgeSite:
    meter: Meter
    dtu: SimulatedDtu
    bridge: Bridge
    platform: TestClient  # subscribed to the meter's uplink, as the gateway would be
    topics: Topics

    def meter_at(self, channel: int) -> Dlt645Meter:
        return self.dtu.meter(ADDRESSES[channel - 1])

    def send(self, action: str, channel: int, session_id: int, limit: int | None = None,
             cmd_id: str | None = None, deadline_s: float = 30) -> str:
        cmd_id = cmd_id or uuid.uuid4().hex
        command = Command(cmd_id=cmd_id, action=action, ch=channel, session_id=session_id, energy_limit_wh=limit,
                          deadline=utcnow() + timedelta(seconds=deadline_s))
        self.platform.publish(self.topics.command(self.meter.serial), encode(command))
        return cmd_id

    def next_of(self, kind: str, timeout: float = 10, where=lambda m: True) -> dict:
        """The next uplink message of a kind that satisfies `where`; others are skipped."""
        def found():
            while not self.platform.received.empty():
                topic, payload = self.platform.received.get_nowait()
                message = json.loads(payload)
                if topic.endswith(f"/{kind}") and where(message):
                    return message
            return None
        return wait_for(found, timeout=timeout, what=f"a {kind} message")


def make_bridge_site(engine, settings, loads=(None, None), timing: BridgeTiming = FAST, **dtu_options) -> BridgeSite:
    topics = Topics(settings.mqtt_topic_prefix)
    broker = BrokerAddress.parse(settings.mqtt_url)
    dtu_id = f"DTU-{uuid.uuid4().hex[:8]}"
    with Session(engine, expire_on_commit=False) as db:
        point, meter = factories.active_point(db, outlets=2)
        commission(db, point.id, DtuCommission(dtu_id=dtu_id, channels=[
            {"channel": ch, "address": address, "password": PASSWORD} for ch, address in enumerate(ADDRESSES, 1)]),
                   factories.user(db, Role.operator))
        db.commit()
    platform = TestClient(settings.mqtt_url, f"platform-{dtu_id}", [topics.meter(meter.serial, "+")])
    # 1 000 009 Wh: the register shows 1 000 000 and its next count comes within the first Wh drawn.
    meters = [Dlt645Meter(address, load, Decimal(1_000_009), PASSWORD) for address, load in zip(ADDRESSES, loads)]
    dtu = SimulatedDtu(broker, topics, dtu_id, meters, heartbeat_s=0.5, **dtu_options).start()
    bridge = Bridge(broker, engine, topics, f"bridge-{dtu_id}", timing).start()
    assert bridge.wait_connected(10) and dtu.connected.wait(10), "the bridge or the DTU could not connect"
    return BridgeSite(meter, dtu, bridge, platform, topics)
