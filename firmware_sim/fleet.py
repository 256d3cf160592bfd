"""Many simulated meters in one process: one tick thread for the meters, one I/O thread for their sockets."""
import heapq
import logging
import queue
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Literal

from device_gateway.broker_url import BrokerAddress
from device_gateway.protocol import Command, Message, Status, Topics
from device_gateway.rate_limit import RateLimit
from firmware_sim.client import UPLINK_PACE, MeterLink, published, uplink_kind
from firmware_sim.faults import NO_FAULTS, FaultDice, Faults
from firmware_sim.io_loop import IoLoop
from firmware_sim.loads import LoadProfile
from firmware_sim.meter import SimulatedMeter
from firmware_sim.outbox import DEFAULT_CAPACITY, Outbox

log = logging.getLogger(__name__)

_STOP = object()
# Idle meters report at their interval give or take this share, so a fleet started at once spreads out.
IDLE_JITTER = 0.1
QUARTER_HOUR = timedelta(minutes=15)
QUARTER_HOUR_SLACK_S = 0.05  # wake just after the mark, so the meter's clock has passed it


def quarter_hour_of(moment: datetime) -> datetime:
    """The quarter hour `moment` falls in: hh:00, hh:15, hh:30 or hh:45 exactly."""
    return moment.replace(minute=moment.minute - moment.minute % 15, second=0, microsecond=0)


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
    wake_at: float | None = None  # when the tick loop next looks at this meter, unless it looks every tick
    last_quarter: datetime | None = None  # the last quarter hour on the meter's clock it reported at

    @property
    def faults(self) -> Faults:
        return self.dice.faults


class Fleet:
    """Advances meters when they need it, handles their commands and publishes what they send.

    A meter with a closed relay, a message waiting or a scheduled fault is advanced every tick, so a
    session is cut at its limit on time; an idle meter only when its telemetry is due (its energy is
    integrated over the time since). The cost per tick follows the busy meters, not the fleet size.

    Meters keep metering and cutting at their limits whatever the network does; their uplink
    messages wait in a bounded outbox and go out in order when they are connected, no faster than
    `uplink_pace` (protocol v1's rate; None sends as fast as the network takes them). `faults`
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
        uplink_pace: RateLimit | None = UPLINK_PACE,
    ):
        self.broker = broker
        self.topics = Topics(prefix)
        self.active_interval = active_interval
        self.idle_interval = idle_interval
        self.tick = tick
        self.faults = faults
        self.outbox_capacity = outbox_capacity
        self.record = record
        self.uplink_pace = uplink_pace
        self.errors = 0
        self._meters: dict[str, _Running] = {}
        self._io = IoLoop()
        self._busy: set[str] = set()  # meters to look at every tick; only the tick thread touches it
        self._wakes: list[tuple[float, str]] = []  # (wake_at, serial) of idle meters, a heap with stale entries
        self._jitter = random.Random("fleet")
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
        link = MeterLink(self._io, serial, self.broker, self.topics, partial(self._status, serial),
                         meter.status("offline"), self._enqueue_command, password,
                         Outbox(self.outbox_capacity), self.record, self._wake, self.uplink_pace)
        self._meters[serial] = _Running(meter, link, FaultDice(faults or self.faults, serial))
        if self._thread:
            link.start()
            self._wake(serial)
        return meter

    def start(self) -> None:
        if self._thread:
            return
        self._started_mono = time.monotonic()
        self._io.start()
        self._busy.update(self._meters)  # each meter's first look: its first telemetry
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
        self._io.stop(max(0.5, deadline - time.monotonic()))

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
        self._wake(serial)

    def go_online(self, serial: str) -> None:
        running = self._meters[serial]
        with running.lock:
            running.switched_off = False
            self._follow_network(running)
        self._wake(serial)

    def reset_register(self, serial: str) -> None:
        """Restart one meter with a new boot_id and its registers at 0, as after a replacement or re-flash."""
        running = self._meters[serial]
        with running.lock:
            self._reset(running)
        self._wake(serial)

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
                for serial in self._due_now():
                    self._guarded(self._tick_meter, self._meters[serial])
                next_tick = max(next_tick + self.tick, time.monotonic())

    def _handle_commands_until(self, deadline: float) -> None:
        while (wait := deadline - time.monotonic()) > 0:
            try:
                item = self._commands.get(timeout=wait)
            except queue.Empty:
                return
            if item is _STOP:
                return
            serial, command = item
            if command is None:
                self._guarded(self._reschedule, self._meters[serial])
            else:
                self._guarded(self._handle_command, serial, command)

    def _handle_command(self, serial: str, command: Command) -> None:
        running = self._meters[serial]
        with running.lock:
            now = self._meter_now(running)
            messages = running.meter.handle_command(command, now)
            messages.append(self._telemetry(running, now))
            self._send(running, messages)
            running.link.pump()
            self._reschedule(running)

    def _tick_meter(self, running: _Running) -> None:
        with running.lock:
            self._scheduled_faults(running)
            now = self._meter_now(running)
            running.meter.connected = running.link.connected.is_set()
            quarter = self._quarter_hour_reading(running, now)
            messages = running.meter.advance(now)
            if quarter:
                self._schedule_telemetry(running, now)
            elif messages or time.monotonic() >= running.telemetry_due:
                messages.append(self._telemetry(running, now))
            messages = quarter + messages
            self._send(running, messages)
            running.link.pump()
            self._reschedule(running)

    def _due_now(self) -> list[str]:
        """The busy meters and the idle ones whose wake-up time has come."""
        now = time.monotonic()
        due = set(self._busy)
        while self._wakes and self._wakes[0][0] <= now:
            wake_at, serial = heapq.heappop(self._wakes)
            if self._meters[serial].wake_at == wake_at:
                due.add(serial)
        return list(due)

    def _reschedule(self, running: _Running) -> None:
        """Look at a meter every tick while it is busy, otherwise when its telemetry is due. Tick thread only."""
        serial = running.link.serial
        if self._busy_meter(running):
            self._busy.add(serial)
            running.wake_at = None
            return
        self._busy.discard(serial)
        if running.wake_at != running.telemetry_due:
            running.wake_at = running.telemetry_due
            heapq.heappush(self._wakes, (running.wake_at, serial))

    @staticmethod
    def _busy_meter(running: _Running) -> bool:
        faults = running.faults
        # A meter waiting for its connection is woken when it connects, not pumped every tick.
        waiting_to_send = len(running.link.outbox) > 0 and running.link.connected.is_set()
        return (running.meter.any_relay_closed or waiting_to_send or running.meter.awaiting_confirmation
                or bool(faults.offline_windows or faults.register_resets_at)
                or running.switched_off != running.link.switched_off)

    def _wake(self, serial: str) -> None:
        """Have the tick thread look at this meter again (its state changed from another thread)."""
        self._commands.put((serial, None))

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
        self._schedule_telemetry(running, now)
        return running.meter.telemetry(now)

    def _schedule_telemetry(self, running: _Running, now: datetime) -> None:
        """Next reading after the interval (shorter while a relay is closed), or at the next quarter hour."""
        closed = running.meter.any_relay_closed
        if closed:
            interval = self.active_interval
        else:
            interval = self.idle_interval * self._jitter.uniform(1 - IDLE_JITTER, 1 + IDLE_JITTER)
        to_quarter = (quarter_hour_of(now) + QUARTER_HOUR - now).total_seconds()
        running.telemetry_due = time.monotonic() + min(interval, to_quarter + QUARTER_HOUR_SLACK_S)

    @staticmethod
    def _quarter_hour_reading(running: _Running, now: datetime) -> list[Message]:
        """A reading stamped exactly at each quarter hour the meter's clock passed, so tariff boundaries fall on one."""
        mark = quarter_hour_of(now)
        if running.last_quarter is None or mark <= running.last_quarter:
            running.last_quarter = running.last_quarter or mark
            return []
        running.last_quarter = mark
        return running.meter.advance(mark) + [running.meter.telemetry(mark)]

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
