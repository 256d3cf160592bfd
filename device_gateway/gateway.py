"""The MQTT gateway: paho's thread admits and routes; workers validate, store, commit, then ack.

Two kinds of lane, so a vendor's Start never waits behind a fleet's telemetry:
- the control lane takes acks, stop records and status one at a time, as they come;
- telemetry lanes (GATEWAY_TELEMETRY_WORKERS) each take the meters hashed to them and store their
  telemetry by the batch (backend/meters/ingest.py), acknowledging a batch after it commits.
Each meter's telemetry stays in one lane, in its order. docs/reliability.md says what this
guarantees and why; docs/performance.md what it costs; docs/security.md ("One meter cannot starve
the others") how a flooding meter is kept cheap for everyone else.
"""
import logging
import queue
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable
from typing import NamedTuple

import paho.mqtt.client as mqtt
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from backend.core import log_context
from backend.core.clock import utcnow
from backend.core.config import Settings
from backend.core.db import unit_of_work
from backend.meters.models import RejectionKind
from backend.meters.ingest import LaneMemory, TelemetryIn, store_telemetry
from backend.meters.orders import Order
from backend.meters.quarantine import printable, record_rejections
from backend.meters.service import UnknownMeter
from device_gateway.ack_order import InOrderAcks
from device_gateway.batches import next_batch
from device_gateway.broker_url import BrokerAddress
from device_gateway.catch_up import CatchUp
from device_gateway.commands import MqttOrderSink
from device_gateway.connection import new_client
from device_gateway.flood_alarms import FloodAlarms
from device_gateway.flood_watch import FloodWatch
from device_gateway.handlers import Uplink, apply, sample_of, validate
from device_gateway.metrics import GatewayMetrics
from device_gateway.protocol import UPLINK_KINDS, BadMessage, Topics
from device_gateway.rate_limit import PROTOCOL_LIMIT, MeterRateLimiter, RateLimit
from device_gateway.rejection_tally import RejectionTally

log = logging.getLogger(__name__)
DB_RETRY_SECONDS = 1.0
# How often counted rejections are written to the quarantine and flood alarms brought up to date.
HOUSEKEEPING_SECONDS = 1.0
FLOOD_CALM_SECONDS = 60.0
TELEMETRY_WORKERS = 4
BATCH_MAX = 500  # messages per transaction
BATCH_WAIT_S = 0.005  # how long a batch waits for more messages once its first has come


class Inbound(NamedTuple):
    """One message as paho handed it over (a tuple: one is made per message, so it must be cheap)."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    connection: int  # a packet id means something only on the connection that delivered it
    source: str = ""  # the serial the topic names (the rate limit's key), else the topic
    admitted: bool = True  # False: over its meter's rate limit, so only acknowledged and counted
    arrived: float = 0.0  # time.monotonic() when paho handed it over
    ticket: int = 0  # its place in the line of PUBACKs


def gateway_rate_limit(settings: Settings) -> RateLimit:
    """GATEWAY_METER_RATE_PER_S and GATEWAY_METER_BURST, protocol v1's figures where unset."""
    return RateLimit(settings.gateway_meter_rate_per_s or PROTOCOL_LIMIT.per_second,
                     settings.gateway_meter_burst or PROTOCOL_LIMIT.burst)


def gateway_lanes(settings: Settings) -> dict:
    """GATEWAY_TELEMETRY_WORKERS, GATEWAY_BATCH_MAX and GATEWAY_BATCH_WAIT_MS as Gateway's arguments."""
    return dict(telemetry_workers=settings.gateway_telemetry_workers, batch_max=settings.gateway_batch_max,
                batch_wait_s=settings.gateway_batch_wait_ms / 1000)


def database_unavailable(exc: BaseException) -> bool:
    """Whether an error says the database is away (so retry) rather than that the message is bad."""
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeout):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


class Gateway:
    def __init__(self, broker: BrokerAddress, engine: Engine, topics: Topics, client_id: str,
                 share_group: str = "", rate_limit: RateLimit = PROTOCOL_LIMIT,
                 flood_calm_seconds: float = FLOOD_CALM_SECONDS, telemetry_workers: int = TELEMETRY_WORKERS,
                 batch_max: int = BATCH_MAX, batch_wait_s: float = BATCH_WAIT_S):
        self.metrics = GatewayMetrics()
        self.rate_limit = rate_limit
        self._engine = engine
        self._topics = topics
        self._share_group = share_group
        self._inbox: queue.Queue[Inbound | None] = queue.Queue()  # the control lane
        self._lanes: list[queue.Queue[Inbound | None]] = [queue.Queue() for _ in range(max(1, telemetry_workers))]
        self._batch_max, self._batch_wait_s = batch_max, batch_wait_s
        self._counting = threading.Lock()  # the flood watch and the rejection tally, shared by every lane
        self._acks: InOrderAcks[Inbound] = InOrderAcks(self._puback)
        self._connected = threading.Event()
        self._connection = 0  # counts successful connects; paho's thread writes it, the worker reads it
        self._stopping = threading.Event()
        self._broker = broker
        self._limiter = MeterRateLimiter(rate_limit)  # paho's thread only
        self._catch_up = CatchUp()
        self._catch_up.hold("broker")  # whatever the broker kept for us arrives right after we connect
        self._marker_topic = topics.gateway_marker(client_id)
        self._floods = FloodWatch(flood_calm_seconds)  # the worker only, like the two below
        self._flood_alarms = FloodAlarms(engine, self, rate_limit.per_second)
        self._rejections = RejectionTally()
        self._over_limit = f"over the limit of {rate_limit.per_second:g} messages/s"
        self._housekeeping_due = 0.0
        # A persistent session: QoS 1 messages wait at the broker while we are away.
        self.client = new_client(broker, client_id, clean_session=False, manual_ack=True)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self._sink = MqttOrderSink(self.client, topics)
        self._worker = threading.Thread(target=self._work, name="gateway-control", daemon=True)
        self._lane_workers = [threading.Thread(target=self._work_telemetry, args=(lane, f"lane{n}"),
                                               name=f"gateway-telemetry-{n}", daemon=True)
                              for n, lane in enumerate(self._lanes)]

    def start(self) -> None:
        self._worker.start()
        for worker in self._lane_workers:
            worker.start()
        self.client.connect_async(self._broker.host, self._broker.port, keepalive=30)
        self.client.loop_start()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def catching_up(self) -> bool:
        """Whether the gateway is still draining what the broker queued while it could not take messages."""
        return self._catch_up.catching_up(time.monotonic())

    def stop(self) -> None:
        self._stopping.set()
        for inbox in (self._inbox, *self._lanes):
            inbox.put(None)
        for worker in (self._worker, *self._lane_workers):
            worker.join(timeout=10)
        self.client.disconnect()
        self.client.loop_stop()

    def send(self, order: Order) -> None:
        """OrderSink: publish a relay command (after the deciding transaction committed)."""
        self._sink.send(order)
        self.metrics.count("commands_sent")

    # --- paho's thread: never blocks, never touches the database ---

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("gateway could not connect to %s: %s", self._broker.url, reason_code)
            return
        self._connection += 1
        filters = self._topics.uplink_filters(self._share_group) + [self._marker_topic]
        client.subscribe([(f, 1) for f in filters])
        self._connected.set()
        log.info("gateway connected to %s", self._broker.url)
        self._send_marker(self._catch_up.release("broker", time.monotonic()))

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._connected.clear()
        self._catch_up.hold("broker")
        if not self._stopping.is_set():
            log.warning("gateway lost the broker (%s); reconnecting", reason_code)

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        now = time.monotonic()
        if message.topic == self._marker_topic:
            self._marker_back(message.payload)
            source, admitted = "", True
        else:
            source = self._source_of(message.topic)
            # A backlog the broker kept for us arrives faster than it was sent: no limit until it is drained.
            admitted = self._catch_up.catching_up(now) or self._limiter.admit(source, now)
        item = Inbound(message.topic, message.payload, message.mid, message.qos, self._connection, source, admitted,
                       now, self._acks.ticket())
        self._lane_of(item).put(item)

    def _lane_of(self, item: Inbound) -> queue.Queue:
        """Telemetry to its meter's lane (a stable hash: one meter, one lane, in order); the rest to control."""
        if item.admitted and item.topic.endswith("/telemetry") and item.source:
            return self._lanes[zlib.crc32(item.source.encode()) % len(self._lanes)]
        return self._inbox

    def _source_of(self, topic: str) -> str:
        try:
            return self._topics.parse(topic)[0]
        except BadMessage:
            return topic

    def _send_marker(self, marker: int | None) -> None:
        if marker is not None:
            self.client.publish(self._marker_topic, str(marker).encode(), qos=1)

    def _marker_back(self, payload: bytes) -> None:
        try:
            marker = int(payload)
        except ValueError:
            return
        if self._catch_up.marker_returned(marker):
            log.info("gateway drained the broker's backlog; meters' rate limits apply again")

    # --- the worker: in arrival order ---

    def _work(self) -> None:
        # One worker, in arrival order: the broker keeps each meter's messages in the order it sent them,
        # and a session needs its start ack, readings and stop applied in that order.
        if not self._share_group:  # sharing, another instance may be watching a flood
            self._guarded(self._flood_alarms.close_stale, "close stale flooding alarms")
        while True:
            try:
                item = self._inbox.get(timeout=HOUSEKEEPING_SECONDS)
            except queue.Empty:
                self._housekeep_when_due()
                continue
            if item is None:
                break
            self._take(item)
            self._housekeep_when_due()
        self._guarded(self._write_rejections, "write the quarantine")

    def _take(self, item: Inbound) -> None:
        if item.topic == self._marker_topic:
            self._acknowledge(item)
            return
        with log_context.bound(meter=item.source or None):
            self._take_from_meter(item)

    def _take_from_meter(self, item: Inbound) -> None:
        self._observe(item)
        if not item.admitted:
            self.metrics.count("dropped", "rate_limited")
            with self._counting:
                self._rejections.add(item.source, RejectionKind.rate_limited, item.topic, self._over_limit,
                                     item.payload, utcnow())
            self._acknowledge(item)
        elif self._process(item, lambda: self._apply(item)):
            self.metrics.lag("control").observe(time.monotonic() - item.arrived)
            self._acknowledge(item)

    def _observe(self, item: Inbound) -> None:
        self._observe_all([item])

    def _observe_all(self, items: list[Inbound]) -> None:
        """Count the messages by kind and show them to the flood watch (one lock for them all)."""
        for kind, n in Counter(_kind_of(item.topic) for item in items).items():
            self.metrics.count("received", kind, n)
        with self._counting:
            started = [item for item in items if self._floods.observe(item.source, item.arrived, item.admitted)]
        for item in started:
            self.metrics.count("floods")
            log.warning("meter %s floods: more than %g messages/s; its excess is dropped until it calms down",
                        item.source, self.rate_limit.per_second)

    # --- telemetry lanes: by the batch ---

    def _work_telemetry(self, lane: queue.Queue, name: str) -> None:
        memory = LaneMemory()  # this lane's meters are only ever in this lane (within this gateway)
        while (first := lane.get()) is not None:
            batch, stop = next_batch(lane, first, self._batch_max, self._batch_wait_s)
            self._observe_all(batch)
            if self._process(batch, lambda: self._store_batch(batch, memory), f"database:{name}"):
                stored, lag = time.monotonic(), self.metrics.lag("telemetry")
                for item in batch:
                    lag.observe(stored - item.arrived)
                    self._acknowledge(item)
            if stop:
                break

    def _store_batch(self, batch: list[Inbound], memory: LaneMemory) -> None:
        """Validate every message (no database), store the valid ones in one transaction, count the rest."""
        now, valid = utcnow(), []
        for item in batch:
            try:
                valid.append((item, validate(self._topics, item.topic, item.payload, now)))
            except BadMessage as exc:
                self._reject(item, RejectionKind.bad_message, str(exc))
        if not valid:
            return
        try:
            unknown = self._store(valid, memory)
        except Exception as exc:
            if database_unavailable(exc):
                raise
            log.exception("a batch of %d messages failed; storing them one by one", len(valid))
            self.metrics.count("batches_split")
            unknown = self._store_one_by_one(valid)
        for item, uplink in unknown:
            self._reject(item, RejectionKind.unknown_meter, f"no meter has serial {uplink.serial!r}")

    def _store(self, valid: list[tuple[Inbound, Uplink]], memory: LaneMemory | None = None
               ) -> list[tuple[Inbound, Uplink]]:
        """One transaction for the batch; returns the messages whose meter does not exist."""
        with unit_of_work(self._engine, self) as db:
            result = store_telemetry(db, [_telemetry_in(uplink) for _, uplink in valid], memory)
        self.metrics.count("handled_telemetry_batches")
        self.metrics.count("handled_telemetry", n=len(valid))
        unknown = {(m.serial, m.boot_id, m.seq) for m in result.unknown}
        return [(item, uplink) for item, uplink in valid
                if (uplink.serial, uplink.message.boot_id, uplink.message.seq) in unknown]

    def _store_one_by_one(self, valid: list[tuple[Inbound, Uplink]]) -> list[tuple[Inbound, Uplink]]:
        """After a failed batch: each message alone, so only the one at fault is quarantined."""
        unknown = []
        for item, uplink in valid:
            try:
                unknown += self._store([(item, uplink)])
            except Exception as exc:
                if database_unavailable(exc):
                    raise
                log.exception("failed to store telemetry on %s", item.topic)
                self._reject(item, RejectionKind.internal_error, f"internal error: {type(exc).__name__}: {exc}")
        return unknown

    def _acknowledge(self, item: Inbound) -> None:
        """The message is stored (or counted): its PUBACK may go once every earlier arrival's has."""
        self._acks.finished(item.ticket, item)

    def _puback(self, item: Inbound) -> None:
        """PUBACK, after the commit, on the connection that delivered the message.

        After a reconnect the broker re-sends what was not acknowledged (and a restarted broker
        without persistence reuses packet ids): acking an old id could confirm a message never stored.
        """
        if item.connection != self._connection or not self._connected.is_set():
            self.metrics.count("acks_skipped", "reconnected")
            return
        self.client.ack(item.mid, item.qos)

    def _process(self, what: Inbound | list[Inbound], work: Callable[[], None], hold: str = "database") -> bool:
        """Do `work` (apply a message, store a batch); False only when stopping before it was stored."""
        held = False
        while not self._stopping.is_set():
            try:
                work()
            except Exception as exc:
                if not database_unavailable(exc):
                    # It could not even be counted; the log keeps it rather than every meter waiting on it.
                    log.exception("dropped what could not be quarantined: %r", _described(what))
                    self.metrics.count("dropped", "unquarantinable")
                    return True
                # The database is away: keep the messages unacknowledged and try again; the broker queues the rest.
                if not held:
                    self._catch_up.hold(hold)
                    held = True
                self.metrics.count("db_retries")
                log.warning("database unavailable, retrying %s: %s", _described(what), getattr(exc, "orig", exc))
                self._stopping.wait(DB_RETRY_SECONDS)
                continue
            if held:
                self._send_marker(self._catch_up.release(hold, time.monotonic()))
            return True
        return False

    def _apply(self, item: Inbound) -> None:
        try:
            uplink = validate(self._topics, item.topic, item.payload, utcnow())
        except BadMessage as exc:
            self._reject(item, RejectionKind.bad_message, str(exc))  # no database round trip
            return
        try:
            with unit_of_work(self._engine, self) as db:
                kind = apply(db, uplink)
            self.metrics.count(f"handled_{kind}")
        except UnknownMeter as exc:
            self._reject(item, RejectionKind.unknown_meter, exc.detail)
        except Exception as exc:
            if database_unavailable(exc):
                raise
            log.exception("failed to handle message on %s", item.topic)
            self._reject(item, RejectionKind.internal_error, f"internal error: {type(exc).__name__}: {exc}")

    def _reject(self, item: Inbound, kind: RejectionKind, reason: str) -> None:
        """Count it for the quarantine; the log gets the first of each meter and kind per write."""
        self.metrics.count("rejected", kind)
        with self._counting:
            first = self._rejections.add(item.source, kind, item.topic, reason, item.payload, utcnow())
        if first:
            log.warning("rejected message on %s: %s", item.topic, printable(reason))

    # --- housekeeping, between messages ---

    def _housekeep_when_due(self) -> None:
        now = time.monotonic()
        if now < self._housekeeping_due:
            return
        self._housekeeping_due = now + HOUSEKEEPING_SECONDS
        self._guarded(self._write_rejections, "write the quarantine")
        self._guarded(lambda: self._update_flood_alarms(now), "update flooding alarms")
        if self._catch_up.expired(now):
            log.error("the catch-up marker on %s did not come back; is the gateway allowed to publish and read "
                      "it? Meters' rate limits apply again", self._marker_topic)

    def _update_flood_alarms(self, now: float) -> None:
        # Under the lanes' lock: it writes only when a flood starts, grows or ends.
        with self._counting:
            self._flood_alarms.update(self._floods, now)

    def _write_rejections(self) -> None:
        with self._counting:
            counts = self._rejections.drain() if len(self._rejections) else []
        if not counts:
            return
        try:
            with unit_of_work(self._engine, self) as db:
                record_rejections(db, counts)
        except Exception as exc:
            if database_unavailable(exc):
                with self._counting:
                    self._rejections.restore(counts)  # counted again with the next write
            else:
                self.metrics.count("dropped", "unquarantinable")
            raise
        for count in counts:
            if count.count > 1:
                log.warning("quarantined %d %s messages from %s", count.count, count.kind.value, count.source)

    def _guarded(self, work, what: str) -> None:
        """Housekeeping that fails is logged and tried again later; it never stops the messages."""
        try:
            work()
        except Exception as exc:
            if database_unavailable(exc):
                log.warning("could not %s, the database is unavailable: %s", what, getattr(exc, "orig", exc))
            else:
                log.exception("could not %s", what)


def _kind_of(topic: str) -> str:
    """The uplink kind a topic names (telemetry, ack, event, status), else "other"."""
    kind = topic.rsplit("/", 1)[-1]
    return kind if kind in UPLINK_KINDS else "other"


def _telemetry_in(uplink: Uplink) -> TelemetryIn:
    message = uplink.message
    return TelemetryIn(uplink.serial, message.boot_id, message.seq, message.ts,
                       tuple(sample_of(outlet) for outlet in message.outlets))


def _described(what: Inbound | list[Inbound]) -> str:
    if isinstance(what, list):
        return f"a batch of {len(what)} messages"
    return f"the message on {what.topic}: {what.payload[:4096]!r}"
