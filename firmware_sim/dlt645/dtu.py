"""A simulated transparent 4G DTU: the RS-485 bus's bytes to MQTT `up`, `down` to the bus; with faults."""
import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import paho.mqtt.client as mqtt

from backend.core.clock import utcnow
from device_gateway.broker_url import BrokerAddress
from device_gateway.connection import new_client
from device_gateway.dlt645 import codec, dtu_packets
from device_gateway.dlt645.codec import FrameReader
from device_gateway.protocol import Topics
from firmware_sim.dlt645.meter import Dlt645Meter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DtuFaults:
    """Shares of the meters' replies the 4G link mistreats (each decided per reply, reproducibly)."""

    drop_rate: float = 0.0  # the reply never reaches the cloud
    split_rate: float = 0.0  # the reply arrives in two to four MQTT messages
    merge_rate: float = 0.0  # the reply is held back and arrives in one message with the next
    corrupt_rate: float = 0.0  # one byte of the checksum is wrong


NO_FAULTS = DtuFaults()


class SimulatedDtu:
    """Several DL/T 645 meters on one bus behind one DTU; each answers only its address."""

    def __init__(self, broker: BrokerAddress, topics: Topics, dtu_id: str, meters: list[Dlt645Meter],
                 password: str | None = None, heartbeat_s: float = 30.0, faults: DtuFaults = NO_FAULTS,
                 seed: int | str = 0, clock: Callable[[], datetime] = utcnow):
        self.dtu_id, self.topics, self.faults, self.clock = dtu_id, topics, faults, clock
        self.meters = {m.address: m for m in meters}
        self.heartbeat_s = heartbeat_s
        self.requests = 0
        self._rng = random.Random(f"dtu:{seed}")
        self._held = b""
        self._reader = FrameReader()
        self._lock = threading.Lock()
        self._online = threading.Event()
        self._stop = threading.Event()
        self.connected = threading.Event()
        address = BrokerAddress(broker.host, broker.port, dtu_id if password else broker.username,
                                password or broker.password)
        self._broker = address
        self.client = new_client(address, dtu_id)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_disconnect = lambda *_: self.connected.clear()
        self.client.on_message = self._on_down
        self._beat = threading.Thread(target=self._heartbeats, name=f"dtu-{dtu_id}", daemon=True)

    def meter(self, address: str) -> Dlt645Meter:
        return self.meters[address]

    def start(self) -> "SimulatedDtu":
        self._online.set()
        self.client.connect_async(self._broker.host, self._broker.port, keepalive=30)
        self.client.loop_start()
        self._beat.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._online.clear()
        self.client.disconnect()
        self.client.loop_stop()
        self._beat.join(5)

    def go_offline(self) -> None:
        """The 4G link is gone: no heartbeat, no bytes either way (the meters keep metering).

        Its MQTT session may linger at the broker; the bridge only ever sees silence.
        """
        self._online.clear()

    def come_back(self) -> None:
        """The link is back: the DTU registers again, as it does on every connection."""
        self._online.set()
        self.client.publish(self.topics.dtu(self.dtu_id, "up"), dtu_packets.registration(self.dtu_id), qos=1)

    def advance(self, now: datetime | None = None) -> None:
        """Let every meter count the energy drawn until now."""
        with self._lock:
            for meter in self.meters.values():
                meter.advance(now or self.clock())

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.warning("DTU %s: the broker refused it: %s", self.dtu_id, reason_code)
            return
        client.subscribe(self.topics.dtu(self.dtu_id, "down"), qos=1)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        client.publish(self.topics.dtu(self.dtu_id, "up"), dtu_packets.registration(self.dtu_id), qos=1)
        self.connected.set()

    def _on_down(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        if not self._online.is_set():
            return
        with self._lock:
            frames = self._reader.feed(bytes(message.payload))
            replies = [reply for frame in frames for meter in self.meters.values()
                       if (reply := meter.answer(frame, self.clock())) is not None]
            self.requests += len(frames)
        for reply in replies:
            self._deliver(codec.encode(reply, preamble=self._rng.randint(0, 4)))

    def _deliver(self, wire: bytes) -> None:
        faults = self.faults
        if self._rng.random() < faults.drop_rate:
            return
        if self._rng.random() < faults.corrupt_rate:
            wire = wire[:-2] + bytes([wire[-2] ^ 0x5A]) + wire[-1:]
        if self._rng.random() < faults.merge_rate and not self._held:
            self._held = wire
            return
        wire, self._held = self._held + wire, b""
        pieces = [wire]
        if self._rng.random() < faults.split_rate and len(wire) > 3:
            cuts = sorted(self._rng.sample(range(1, len(wire)), self._rng.randint(1, 3)))
            pieces = [wire[a:b] for a, b in zip([0, *cuts], [*cuts, len(wire)])]
        for piece in pieces:
            self.client.publish(self.topics.dtu(self.dtu_id, "up"), piece, qos=1)

    def _heartbeats(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            if self._online.is_set() and self.connected.is_set():
                self.client.publish(self.topics.dtu(self.dtu_id, "up"), dtu_packets.heartbeat(self.dtu_id), qos=1)
            self.advance()
