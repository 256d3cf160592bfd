"""One simulated meter's MQTT connection: status, last will, commands in, messages out."""
import logging
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from device_gateway.broker_url import BrokerAddress
from device_gateway.protocol import (
    MAX_UPLINK_BURST,
    MAX_UPLINK_RATE_PER_S,
    UPLINK_MODELS,
    BadMessage,
    Command,
    Message,
    Status,
    Topics,
    decode_command,
    encode,
)
from device_gateway.rate_limit import RateLimit, TokenBucket
from firmware_sim.io_loop import IoLoop
from firmware_sim.outbox import Outbox

log = logging.getLogger(__name__)

QOS = 1
KEEPALIVE_S = 30
MIN_BACKOFF_S = 1.0
MAX_BACKOFF_S = 60.0
# How many buffered messages the MQTT client may hold at once; it keeps them, in order, until PUBACK.
HANDOVER_WINDOW = 100
# What docs/protocol.md allows, with half the burst kept back for the network bunching messages together.
UPLINK_PACE = RateLimit(MAX_UPLINK_RATE_PER_S, MAX_UPLINK_BURST // 2)
_KIND_OF = {model: kind for kind, model in UPLINK_MODELS.items()}

StatusOf = Callable[[Literal["online", "offline"]], Status]
CommandSink = Callable[[str, Command], None]


class MeterLink:
    """A paho client named after the meter's serial; callbacks only hand work on, never block.

    Uplink messages wait in the outbox (the meter's flash) and are handed to paho in order, a window
    at a time and no faster than `pace`, only while connected; paho keeps what it was handed until the
    broker's PUBACK and sends it again after a reconnect. Not thread-safe: one thread calls send, pump and the switches.
    The socket itself belongs to the shared `io` loop, which connects it, reconnects it with backoff,
    reads and writes it.
    """

    def __init__(
        self,
        io: IoLoop,
        serial: str,
        broker: BrokerAddress,
        topics: Topics,
        status_of: StatusOf,
        will: Status,
        on_command: CommandSink,
        password: str | None = None,
        outbox: Outbox | None = None,
        record: bool = False,
        on_ready: Callable[[str], None] | None = None,
        pace: RateLimit | None = UPLINK_PACE,
    ):
        self.serial = serial
        self.connected = threading.Event()  # set once subscribed, so commands can no longer be missed
        self.outbox = outbox if outbox is not None else Outbox()
        self.handed_over: list[Message] = []  # every uplink message given to the network, when recording
        self._record = record
        self._in_flight: deque[mqtt.MQTTMessageInfo] = deque()
        self._switched_off = False
        self._broker = broker
        self._topics = topics
        self._status_of = status_of
        self._on_command = on_command
        self._io = io
        self._on_ready = on_ready  # told (on the io thread) when the link can take messages again
        self._closed = False
        self._backoff_s = MIN_BACKOFF_S
        self._pace = TokenBucket(pace, time.monotonic()) if pace else None
        self.client = self._make_client(will, password)
        io.adopt(self.client)

    def start(self) -> None:
        if self._switched_off:
            return  # `switch_on` starts it
        self._closed = False
        self._io.dial(self)

    def dial(self) -> None:
        """Open the connection now; the io loop calls this when a connect slot is free."""
        if self._switched_off or self._closed or self.client.socket() is not None:
            self._io.dial_done(self)  # unwanted, or still connected: a lost socket redials by itself
            return
        self.client.reconnect()

    def dial_failed(self, error: OSError) -> None:
        log.info("meter %s: could not connect: %s", self.serial, error)
        self._redial()

    def send(self, message: Message) -> None:
        """Buffer an uplink message; `pump` sends it when the network is there."""
        self.outbox.put(message)

    def pump(self) -> None:
        """Hand buffered messages to paho, oldest first: while connected, at the pace, while the window has room."""
        while self._in_flight and self._in_flight[0].is_published():
            self._in_flight.popleft()
        while self.connected.is_set() and len(self._in_flight) < HANDOVER_WINDOW and len(self.outbox):
            if self._pace is not None and not self._pace.take(time.monotonic()):
                break  # a backlog goes out at the pace the platform accepts, not all at once
            message = self.outbox.take()
            self._in_flight.append(self.publish(message))
            if self._record:
                self.handed_over.append(message)
        self.outbox.in_flight = len(self._in_flight)

    @property
    def backlog(self) -> int:
        """Uplink messages not yet acknowledged by the broker."""
        return len(self.outbox) + sum(1 for info in self._in_flight if not info.is_published())

    @property
    def switched_off(self) -> bool:
        return self._switched_off

    def switch_off(self) -> None:
        """Lose the network until `switch_on`: no DISCONNECT (the broker sends the will), no reconnecting."""
        if self._switched_off:
            return
        self._switched_off = True
        self.connected.clear()
        self.drop_connection()  # the io loop sees the socket end and, switched off, does not redial

    def switch_on(self) -> None:
        if not self._switched_off:
            return
        self._switched_off = False
        self._backoff_s = MIN_BACKOFF_S
        self.start()

    def publish(self, message: Message) -> mqtt.MQTTMessageInfo:
        """Give a message to paho, which keeps a QoS 1 message until the broker acknowledges it."""
        kind = uplink_kind(message)
        retain = kind == "status"
        info = self.client.publish(self._topics.meter(self.serial, kind), encode(message), QOS, retain)
        self._io.touch(self.client)
        return info

    def say_offline(self) -> mqtt.MQTTMessageInfo | None:
        """Publish the retained offline status, since a clean disconnect never fires the will."""
        if not self.connected.is_set():
            return None
        return self.publish(self._status_of("offline"))

    def drop_connection(self) -> None:
        """Lose the network like a rural 4G modem: no DISCONNECT, so the broker sends the will."""
        sock = self.client.socket()
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already gone

    def close(self) -> None:
        """Disconnect cleanly (the io loop sends it) and never reconnect."""
        self._closed = True
        self.connected.clear()
        if not self._switched_off:
            self.client.disconnect()
            self._io.touch(self.client)

    def _make_client(self, will: Status, password: str | None) -> mqtt.Client:
        # A persistent session lets the broker hold commands sent during a short drop-out.
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.serial, clean_session=False)
        username, password = self._credentials(password)
        if username:
            client.username_pw_set(username, password)
        client.will_set(self._topics.meter(self.serial, "status"), encode(will), QOS, retain=True)
        # Only stores where to connect: the io loop opens the connection when its turn comes.
        client.connect_async(self._broker.host, self._broker.port, keepalive=KEEPALIVE_S)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.message_callback_add(self._topics.command(self.serial), self._on_command_message)
        client.on_message = self._on_other_message
        return client

    def _credentials(self, password: str | None) -> tuple[str | None, str | None]:
        """A meter with its own password logs in as its serial, otherwise with the broker URL's user."""
        if password:
            return self.serial, password
        return self._broker.username, self._broker.password

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        self._io.dial_done(self)
        if reason_code.is_failure:
            log.warning("meter %s: broker refused the connection: %s", self.serial, reason_code)
            return
        self._backoff_s = MIN_BACKOFF_S
        client.subscribe(self._topics.command(self.serial), QOS)
        self.publish(self._status_of("online"))

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        if any(code.is_failure for code in reason_codes):
            log.warning("meter %s: broker refused the command subscription: %s", self.serial, reason_codes)
            return
        self.connected.set()
        if self._on_ready:
            self._on_ready(self.serial)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        self._io.dial_done(self)
        if reason_code.is_failure:
            log.info("meter %s: disconnected: %s", self.serial, reason_code)
        self._redial()

    def _redial(self) -> None:
        """Reconnect after a pause that doubles up to a minute, as paho's own loop would."""
        if self._switched_off or self._closed:
            return
        self._io.dial(self, self._backoff_s)
        self._backoff_s = min(self._backoff_s * 2, MAX_BACKOFF_S)

    def _on_other_message(self, client, userdata, msg: mqtt.MQTTMessage) -> None:
        # Some brokers (amqtt 0.12) push retained messages of other clients' subscriptions on connect.
        log.debug("meter %s: ignored a message on %s", self.serial, msg.topic)

    def _on_command_message(self, client, userdata, msg: mqtt.MQTTMessage) -> None:
        try:
            command = decode_command(msg.payload)
        except BadMessage as exc:
            log.warning("meter %s: ignored a bad command on %s: %s", self.serial, msg.topic, exc)
            return
        self._on_command(self.serial, command)


def published(info: mqtt.MQTTMessageInfo | None) -> bool:
    """Whether a publish was accepted by paho, so waiting on it makes sense."""
    return info is not None and info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS


def uplink_kind(message: Message) -> str:
    """The topic kind a meter publishes this message under: telemetry, ack, event or status."""
    return _KIND_OF[type(message)]
