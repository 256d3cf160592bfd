"""The MQTT gateway: paho's thread only enqueues; one worker stores, commits, then acks.

docs/reliability.md says what this guarantees and why.
"""
import logging
import queue
import threading
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from backend.core.db import unit_of_work
from backend.meters.orders import Order
from backend.meters.service import UnknownMeter, quarantine
from device_gateway.broker_url import BrokerAddress
from device_gateway.commands import MqttOrderSink
from device_gateway.connection import new_client
from device_gateway.handlers import handle
from device_gateway.metrics import GatewayMetrics
from device_gateway.protocol import BadMessage, Topics

log = logging.getLogger(__name__)
DB_RETRY_SECONDS = 1.0


@dataclass(frozen=True)
class Inbound:
    topic: str
    payload: bytes
    mid: int
    qos: int
    connection: int  # a packet id means something only on the connection that delivered it


def database_unavailable(exc: BaseException) -> bool:
    """Whether an error says the database is away (so retry) rather than that the message is bad."""
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeout):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


class Gateway:
    def __init__(self, broker: BrokerAddress, engine: Engine, topics: Topics, client_id: str,
                 share_group: str = ""):
        self.metrics = GatewayMetrics()
        self._engine = engine
        self._topics = topics
        self._share_group = share_group
        self._inbox: queue.Queue[Inbound | None] = queue.Queue()
        self._connected = threading.Event()
        self._connection = 0  # counts successful connects; paho's thread writes it, the worker reads it
        self._stopping = threading.Event()
        self._broker = broker
        # A persistent session: QoS 1 messages wait at the broker while we are away.
        self.client = new_client(broker, client_id, clean_session=False, manual_ack=True)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self._sink = MqttOrderSink(self.client, topics)
        self._worker = threading.Thread(target=self._work, name="gateway-worker", daemon=True)

    def start(self) -> None:
        self._worker.start()
        self.client.connect_async(self._broker.host, self._broker.port, keepalive=30)
        self.client.loop_start()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def stop(self) -> None:
        self._stopping.set()
        self._inbox.put(None)
        self._worker.join(timeout=10)
        self.client.disconnect()
        self.client.loop_stop()

    def send(self, order: Order) -> None:
        """OrderSink: publish a relay command (after the deciding transaction committed)."""
        self._sink.send(order)
        self.metrics.count("commands_sent")

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("gateway could not connect to %s: %s", self._broker.url, reason_code)
            return
        self._connection += 1
        client.subscribe([(f, 1) for f in self._topics.uplink_filters(self._share_group)])
        self._connected.set()
        log.info("gateway connected to %s", self._broker.url)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._connected.clear()
        if not self._stopping.is_set():
            log.warning("gateway lost the broker (%s); reconnecting", reason_code)

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        self._inbox.put(Inbound(message.topic, message.payload, message.mid, message.qos, self._connection))

    def _work(self) -> None:
        # One worker, in arrival order: the broker keeps each meter's messages in the order it sent them,
        # and a session needs its start ack, readings and stop applied in that order.
        while (item := self._inbox.get()) is not None:
            if self._process(item):
                self._acknowledge(item)

    def _acknowledge(self, item: Inbound) -> None:
        """PUBACK, after the commit, on the connection that delivered the message.

        After a reconnect the broker re-sends what was not acknowledged (and a restarted broker
        without persistence reuses packet ids): acking an old id could confirm a message never stored.
        """
        if item.connection != self._connection or not self._connected.is_set():
            self.metrics.count("acks_skipped", "reconnected")
            return
        self.client.ack(item.mid, item.qos)

    def _process(self, item: Inbound) -> bool:
        """Apply the message; False only when stopping before it could be stored."""
        self.metrics.count("received")
        while not self._stopping.is_set():
            try:
                self._apply(item)
                return True
            except Exception as exc:
                if not database_unavailable(exc):
                    # Not even the quarantine took it; the log keeps it rather than every meter waiting on it.
                    log.exception("dropped a message on %s that could not be quarantined: %r", item.topic,
                                  item.payload[:4096])
                    self.metrics.count("dropped", "unquarantinable")
                    return True
                # The database is away: keep the message unacknowledged and try again.
                self.metrics.count("db_retries")
                log.warning("database unavailable, retrying %s: %s", item.topic, getattr(exc, "orig", exc))
                self._stopping.wait(DB_RETRY_SECONDS)
        return False

    def _apply(self, item: Inbound) -> None:
        try:
            with unit_of_work(self._engine, self) as db:
                kind = handle(db, self._topics, item.topic, item.payload)
            self.metrics.count(f"handled_{kind}")
        except BadMessage as exc:
            self._reject(item, "bad_message", str(exc))
        except UnknownMeter as exc:
            self._reject(item, "unknown_meter", exc.detail)
        except Exception as exc:
            if database_unavailable(exc):
                raise
            log.exception("failed to handle message on %s", item.topic)
            self._reject(item, "internal_error", f"internal error: {type(exc).__name__}: {exc}")

    def _reject(self, item: Inbound, kind: str, reason: str) -> None:
        log.warning("rejected message on %s: %s", item.topic, reason)
        self.metrics.count("rejected", kind)
        with unit_of_work(self._engine, self) as db:
            # PostgreSQL text cannot hold NUL, and one bad payload must not stop the gateway.
            quarantine(db, item.topic, _without_nul(reason), item.payload.replace(b"\x00", b"\\0"))


def _without_nul(text: str) -> str:
    return text.replace("\x00", "\\0")
