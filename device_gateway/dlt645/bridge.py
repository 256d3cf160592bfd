"""The DL/T 645 bridge: every commissioned DTU's meters, each played as a protocol-v1 meter (docs/dlt645.md).

One MQTT connection with the bridge's platform account reads every DTU's `up` and writes their `down`;
one connection per bridged meter speaks protocol v1 as that meter. Links are read from the database at
start and again every `refresh_s`, so a DTU commissioned meanwhile is served without a restart.
"""
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from backend.alarms import dtu_silence
from backend.core.config import Settings
from backend.core.db import unit_of_work
from backend.dtu.service import all_links
from backend.meters.orders import RecordingSink
from backend.meters.register_rules import outlet_rated_power_w
from backend.points.models import Meter, Outlet
from device_gateway.broker_url import BrokerAddress
from device_gateway.connection import new_client
from device_gateway.dlt645.bridged_meter import BridgedMeter, BridgeTiming, Channel, SilenceSink
from device_gateway.dlt645.bus import Bus
from device_gateway.dlt645.bus_link import BusLink
from device_gateway.dlt645.limit import PollTiming
from device_gateway.dlt645.memory import MemoryStore
from device_gateway.dlt645.meter_link import MeterConnection
from device_gateway.protocol import Topics

log = logging.getLogger(__name__)
REFRESH_S = 30.0


@dataclass(frozen=True)
class Served:
    """What one bridged meter was started from: a change restarts it."""

    dtu_id: str
    serial: str
    password: str
    channels: tuple[Channel, ...]


def bridge_timing(settings: Settings) -> BridgeTiming:
    return BridgeTiming(PollTiming(settings.dlt645_poll_seconds, settings.dlt645_timeout_seconds,
                                   settings.dlt645_retries), settings.dlt645_idle_poll_seconds,
                        settings.dlt645_silent_after_seconds)


class AlarmOnSilence(SilenceSink):
    """The DTU-silent alarm of one meter, written in its own unit of work."""

    def __init__(self, engine: Engine, meter_id: int, after_s: float):
        self._engine, self._meter_id, self._after = engine, meter_id, Decimal(str(after_s))

    def silent(self, since: datetime) -> None:
        with unit_of_work(self._engine, RecordingSink()) as db:
            dtu_silence.dtu_silent(db, db.get(Meter, self._meter_id), since, self._after)

    def heard(self, at: datetime) -> None:
        with unit_of_work(self._engine, RecordingSink()) as db:
            dtu_silence.dtu_heard(db, db.get(Meter, self._meter_id), at)


class Bridge:
    def __init__(self, broker: BrokerAddress, engine: Engine, topics: Topics, client_id: str = "scanpower-dlt645",
                 timing: BridgeTiming = BridgeTiming(), refresh_s: float = REFRESH_S):
        self.broker, self.engine, self.topics, self.timing = broker, engine, topics, timing
        self.store = MemoryStore(engine)
        self.meters: dict[str, BridgedMeter] = {}  # by DTU id
        self._served: dict[str, Served] = {}
        self._links: dict[str, BusLink] = {}
        self._connections: dict[str, MeterConnection] = {}
        self._lock = threading.Lock()
        self._refresh_s = refresh_s
        self._stop = threading.Event()
        self._connected = threading.Event()
        self.client = new_client(broker, client_id)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *_: self._connected.set()
        self.client.on_message = self._on_up
        self._refresher = threading.Thread(target=self._refresh_loop, name="dlt645-refresh", daemon=True)

    def start(self) -> "Bridge":
        self.client.connect_async(self.broker.host, self.broker.port, keepalive=30)
        self.client.loop_start()
        self.refresh()
        self._refresher.start()
        return self

    def connected(self) -> bool:
        """Whether the bridge's own connection to the broker is up (for /readyz)."""
        return self.client.is_connected()

    def wait_connected(self, timeout: float) -> bool:
        """The bridge's own connection and every bridged meter's are up and subscribed."""
        deadline = time.monotonic() + timeout
        if not self._connected.wait(timeout):
            return False
        with self._lock:
            connections = list(self._connections.values())
        return all(c.ready.wait(max(0.0, deadline - time.monotonic())) for c in connections)

    def stop(self) -> None:
        self._stop.set()
        if self._refresher.is_alive():
            self._refresher.join(10)
        for dtu_id in list(self._served):
            self._retire(dtu_id)
        self.client.disconnect()
        self.client.loop_stop()

    def refresh(self) -> None:
        """Serve every commissioned DTU as it is now: new ones start, changed ones restart, removed ones stop."""
        wanted = self._load()
        with self._lock:
            for dtu_id in [d for d in self._served if d not in wanted or wanted[d][1] != self._served[d]]:
                self._retire(dtu_id)
            for dtu_id, (meter_id, served) in wanted.items():
                if dtu_id not in self._served:
                    self._serve(meter_id, served)

    def _load(self) -> dict[str, tuple[int, Served]]:
        with Session(self.engine) as db:
            found = {}
            for link, meter, channels in all_links(db):
                rated = {o.channel: outlet_rated_power_w(o.rated_current_a)
                         for o in db.exec(select(Outlet).where(Outlet.meter_id == meter.id))}
                served = tuple(Channel(c.channel, c.address, c.password, c.operator_code,
                                       rated.get(c.channel, Decimal("3680"))) for c in channels)
                found[link.dtu_id] = (meter.id, Served(link.dtu_id, meter.serial, meter.mqtt_password, served))
            return found

    def _serve(self, meter_id: int, served: Served) -> None:
        link = BusLink(served.dtu_id, lambda wire, d=served.dtu_id: self._write(d, wire),
                       Bus(float(self.timing.poll.timeout_s), self.timing.poll.retries))
        meter = BridgedMeter(meter_id, served.serial, list(served.channels), link, self.store, self.timing,
                             AlarmOnSilence(self.engine, meter_id, self.timing.silent_after_s))
        connection = MeterConnection(self.broker, self.topics, served.serial, served.password, meter.command,
                                     meter.status)
        meter.publisher = connection
        self._links[served.dtu_id], self.meters[served.dtu_id] = link, meter
        self._connections[served.dtu_id], self._served[served.dtu_id] = connection, served
        connection.start()
        meter.start()
        log.info("bridging meter %s: DTU %s, %d DL/T 645 meters", served.serial, served.dtu_id, len(served.channels))

    def _retire(self, dtu_id: str) -> None:
        self._links.pop(dtu_id, None)
        self.meters.pop(dtu_id).stop()
        self._connections.pop(dtu_id).stop()
        self._served.pop(dtu_id)

    def _write(self, dtu_id: str, wire: bytes) -> None:
        self.client.publish(self.topics.dtu(dtu_id, "down"), wire, qos=1)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.warning("the DL/T 645 bridge could not log in to the broker: %s", reason_code)
            return
        client.subscribe(self.topics.dtu_uplink_filter(), qos=1)

    def _on_up(self, client, userdata, message) -> None:
        parts = message.topic.split("/")
        link = self._links.get(parts[-2]) if len(parts) >= 2 and parts[-1] == "up" else None
        if link is None:
            log.debug("bytes from an unknown DTU on %s", message.topic)
            return
        link.received(bytes(message.payload))

    def _refresh_loop(self) -> None:
        while not self._stop.wait(self._refresh_s):
            try:
                self.refresh()
            except Exception:
                log.exception("reloading the DTU links failed; trying again in %.0f s", self._refresh_s)
