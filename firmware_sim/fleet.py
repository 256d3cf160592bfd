"""Many simulated meters in one process, driven by one tick thread."""
import logging
import queue
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Literal

from device_gateway.broker_url import BrokerAddress
from device_gateway.protocol import Command, Message, Status, Topics
from firmware_sim.client import MeterLink, published, uplink_kind
from firmware_sim.faults import NO_FAULTS, FaultDice, Faults
from firmware_sim.loads import LoadProfile
from firmware_sim.meter import SimulatedMeter
from firmware_sim.outbox import DEFAULT_CAPACITY, Outbox

log = logging.getLogger(__name__)

_STOP = object()


@dataclass
class _Running:
    meter: SimulatedMeter
    link: MeterLink
    dice: FaultDice
    lock: threading.Lock = field(default_factory=threading.Lock)
    telemetry_due: float = 0.0
    switched_off: bool = False  # by `go_offline`, until `go_online`
    faults_seen_until_s: float = 0.0
    skipped: list[Message] = field(default_factory=list)  # lost to the drop-rate fault, when recording

    @property
    def faults(self) -> Faults:
        return self.dice.faults


class Fleet:
    """Advances every meter each tick, handles their commands and publishes what they send.

    Meters keep metering and cutting at their limits whatever the network does; their uplink
    messages wait in a bounded outbox and go out in order when they are connected. `faults`
    (per fleet, or per meter in `add_meter`) injects what real links and meters do. With
    `record=True` the fleet keeps every message it gave the network: the ground truth for tests.
    """

    def __init__(
        self,
        broker: BrokerAddress,
        prefix: str = "scanpower/v1",
        active_interval: float = 1.0,
        idle_interval: float = 15.0,
        tick: float = 0.2,
        faults: Faults = NO_FAULTS,
        outbox_capacity: int = DEFAULT_CAPACITY,
        record: bool = False,
    ):
        self.broker = broker
        self.topics = Topics(prefix)
        self.active_interval = active_interval
        self.idle_interval = idle_interval
        self.tick = tick
        self.faults = faults
        self.outbox_capacity = outbox_capacity
        self.record = record
        self.errors = 0
        self._meters: dict[str, _Running] = {}
        self._commands: queue.SimpleQueue = queue.SimpleQueue()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        # Wall time derived from the monotonic clock, so a clock step never meters phantom energy.
        self._wall0, self._mono0 = datetime.now(UTC), time.monotonic()
        self._started_mono: float | None = None

    def add_meter(
        self,
        serial: str,
        channels: int,
        password: str | None = None,
        loads: Mapping[int, LoadProfile] | None = None,
        faults: Faults | None = None,
        registers_wh: Mapping[int, float] | None = None,
    ) -> SimulatedMeter:
        if serial in self._meters:
            raise ValueError(f"meter {serial} is already in the fleet")
        meter = SimulatedMeter(serial, channels, loads=loads, registers_wh=registers_wh)
        # The will is fixed at connect time, so it carries no timestamp.
        link = MeterLink(serial, self.broker, self.topics, partial(self._status, serial),
                         meter.status("offline"), self._enqueue_command, password,
                         Outbox(self.outbox_capacity), self.record)
        self._meters[serial] = _Running(meter, link, FaultDice(faults or self.faults, serial))
        if self._thread:
            link.start()
        return meter

    def start(self) -> None:
        if self._thread:
            return
        self._started_mono = time.monotonic()
        for running in list(self._meters.values()):
            running.link.start()
        self._thread = threading.Thread(target=self._run, name="firmware-sim-fleet", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop ticking, upload what connected meters still buffer, say offline, disconnect; no restart."""
        if not self._thread:
            return
        self._stopping.set()
        self._commands.put(_STOP)
        self._thread.join()
        self._thread = None
        deadline = time.monotonic() + timeout
        self._flush(deadline)
        links = [r.link for r in self._meters.values()]
        self._wait_published([link.say_offline() for link in links], max(0.0, deadline - time.monotonic()))
        for link in links:
            link.close()

    def wait_connected(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        for running in list(self._meters.values()):
            if not running.link.connected.wait(max(0.0, deadline - time.monotonic())):
                return False
        return True

    def drop_connection(self, serial: str) -> None:
        """Cut one meter off the network; it keeps metering and reconnects by itself."""
        self._meters[serial].link.drop_connection()

    def go_offline(self, serial: str) -> None:
        """Take one meter off the network until `go_online`; it keeps metering and buffers its messages."""
        running = self._meters[serial]
        with running.lock:
            running.switched_off = True
            self._follow_network(running)

    def go_online(self, serial: str) -> None:
        running = self._meters[serial]
        with running.lock:
            running.switched_off = False
            self._follow_network(running)

    def reset_register(self, serial: str) -> None:
        """Restart one meter with a new boot_id and its registers at 0, as after a replacement or re-flash."""
        running = self._meters[serial]
        with running.lock:
            self._reset(running)

    def published(self, serial: str) -> list[Message]:
        """Every uplink message this meter gave the network, in order (needs `record=True`)."""
        return list(self._meters[serial].link.handed_over)

    def skipped(self, serial: str) -> list[Message]:
        """Uplink messages the drop-rate fault kept from the network (needs `record=True`)."""
        return list(self._meters[serial].skipped)

    def overflowed(self, serial: str) -> int:
        """Telemetry messages dropped because the meter's outbox was full."""
        return self._meters[serial].link.outbox.dropped

    def backlog(self, serial: str) -> int:
        """Uplink messages of this meter the broker has not acknowledged yet."""
        return self._meters[serial].link.backlog

    def wait_uploaded(self, timeout: float) -> bool:
        """Wait until the broker has acknowledged every meter's buffered messages."""
        deadline = time.monotonic() + timeout
        while any(self.backlog(serial) for serial in list(self._meters)):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def meter(self, serial: str) -> SimulatedMeter:
        return self._meters[serial].meter

    @property
    def serials(self) -> list[str]:
        return list(self._meters)

    def register_wh(self, serial: str, ch: int) -> int:
        running = self._meters[serial]
        with running.lock:
            return running.meter.register_wh(ch)

    def __enter__(self) -> "Fleet":
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _run(self) -> None:
        next_tick = time.monotonic()
        while not self._stopping.is_set():
            self._handle_commands_until(next_tick)
            if time.monotonic() >= next_tick:
                for running in list(self._meters.values()):
                    self._guarded(self._tick_meter, running)
                next_tick = max(next_tick + self.tick, time.monotonic())

    def _handle_commands_until(self, deadline: float) -> None:
        while (wait := deadline - time.monotonic()) > 0:
            try:
                item = self._commands.get(timeout=wait)
            except queue.Empty:
                return
            if item is _STOP:
                return
            self._guarded(self._handle_command, *item)

    def _handle_command(self, serial: str, command: Command) -> None:
        running = self._meters[serial]
        with running.lock:
            now = self._meter_now(running)
            messages = running.meter.handle_command(command, now)
            messages.append(self._telemetry(running, now))
            self._send(running, messages)
            running.link.pump()

    def _tick_meter(self, running: _Running) -> None:
        with running.lock:
            self._scheduled_faults(running)
            now = self._meter_now(running)
            messages = running.meter.advance(now)
            if messages or time.monotonic() >= running.telemetry_due:
                messages.append(self._telemetry(running, now))
            self._send(running, messages)
            running.link.pump()

    def _scheduled_faults(self, running: _Running) -> None:
        elapsed = self._since_start_s()
        for _ in range(running.faults.resets_between(running.faults_seen_until_s, elapsed)):
            self._reset(running)
        running.faults_seen_until_s = elapsed
        self._follow_network(running)

    def _follow_network(self, running: _Running) -> None:
        if running.switched_off or running.faults.offline_at(self._since_start_s()):
            running.link.switch_off()
        elif self._thread:
            running.link.switch_on()

    def _reset(self, running: _Running) -> None:
        self._send(running, running.meter.reset_register(self._meter_now(running)))
        running.telemetry_due = 0.0
        # A restarted meter reconnects, and its online status announces the new boot_id.
        running.link.drop_connection()

    def _telemetry(self, running: _Running, now: datetime) -> Message:
        closed = running.meter.any_relay_closed
        running.telemetry_due = time.monotonic() + (self.active_interval if closed else self.idle_interval)
        return running.meter.telemetry(now)

    def _send(self, running: _Running, messages: list[Message]) -> None:
        for message in messages:
            copies = running.dice.copies(uplink_kind(message))
            if copies == 0 and self.record:
                running.skipped.append(message)
            for _ in range(copies):
                running.link.send(message)

    def _guarded(self, work, *args) -> None:
        """Run one meter's work; a failure is logged and counted and cannot stop the fleet."""
        try:
            work(*args)
        except Exception:
            self.errors += 1
            log.exception("simulated meter work failed")

    def _enqueue_command(self, serial: str, command: Command) -> None:
        self._commands.put((serial, command))

    def _status(self, serial: str, state: Literal["online", "offline"]) -> Status:
        running = self._meters[serial]
        return running.meter.status(state, self._meter_now(running))

    def _since_start_s(self) -> float:
        return 0.0 if self._started_mono is None else time.monotonic() - self._started_mono

    def _meter_now(self, running: _Running) -> datetime:
        """The meter's own clock: true time plus its skew."""
        return self._wall0 + timedelta(seconds=time.monotonic() - self._mono0 + running.faults.clock_skew_s)

    def _flush(self, deadline: float) -> None:
        """Pump until every connected meter's backlog is acknowledged, or the deadline."""
        while time.monotonic() < deadline:
            pending = [r for r in self._meters.values() if r.link.connected.is_set() and r.link.backlog]
            if not pending:
                return
            for running in pending:
                with running.lock:
                    running.link.pump()
            time.sleep(0.01)

    @staticmethod
    def _wait_published(infos: list, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for info in infos:
            if published(info):
                info.wait_for_publish(max(0.0, deadline - time.monotonic()))
