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
from firmware_sim.client import MeterLink, published
from firmware_sim.loads import LoadProfile
from firmware_sim.meter import SimulatedMeter

log = logging.getLogger(__name__)

_STOP = object()


@dataclass
class _Running:
    meter: SimulatedMeter
    link: MeterLink
    lock: threading.Lock = field(default_factory=threading.Lock)
    telemetry_due: float = 0.0


class Fleet:
    """Advances every meter each tick, handles their commands and publishes what they send."""

    def __init__(
        self,
        broker: BrokerAddress,
        prefix: str = "scanpower/v1",
        active_interval: float = 1.0,
        idle_interval: float = 15.0,
        tick: float = 0.2,
    ):
        self.broker = broker
        self.topics = Topics(prefix)
        self.active_interval = active_interval
        self.idle_interval = idle_interval
        self.tick = tick
        self.errors = 0
        self._meters: dict[str, _Running] = {}
        self._commands: queue.SimpleQueue = queue.SimpleQueue()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        # Wall time derived from the monotonic clock, so a clock step never meters phantom energy.
        self._wall0, self._mono0 = datetime.now(UTC), time.monotonic()

    def add_meter(
        self,
        serial: str,
        channels: int,
        password: str | None = None,
        loads: Mapping[int, LoadProfile] | None = None,
    ) -> SimulatedMeter:
        if serial in self._meters:
            raise ValueError(f"meter {serial} is already in the fleet")
        meter = SimulatedMeter(serial, channels, loads=loads)
        # The will is fixed at connect time, so it carries no timestamp.
        link = MeterLink(serial, self.broker, self.topics, partial(self._status, meter),
                         meter.status("offline"), self._enqueue_command, password)
        self._meters[serial] = _Running(meter, link)
        if self._thread:
            link.start()
        return meter

    def start(self) -> None:
        if self._thread:
            return
        for running in list(self._meters.values()):
            running.link.start()
        self._thread = threading.Thread(target=self._run, name="firmware-sim-fleet", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop ticking, publish every meter's offline status, then disconnect; there is no restart."""
        if not self._thread:
            return
        self._stopping.set()
        self._commands.put(_STOP)
        self._thread.join()
        self._thread = None
        links = [r.link for r in self._meters.values()]
        self._wait_published([link.say_offline() for link in links], timeout)
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
            now = self._now()
            messages = running.meter.handle_command(command, now)
            messages.append(self._telemetry(running, now))
        self._publish(running, messages)

    def _tick_meter(self, running: _Running) -> None:
        with running.lock:
            now = self._now()
            messages = running.meter.advance(now)
            if messages or time.monotonic() >= running.telemetry_due:
                messages.append(self._telemetry(running, now))
        self._publish(running, messages)

    def _telemetry(self, running: _Running, now: datetime) -> Message:
        closed = running.meter.any_relay_closed
        running.telemetry_due = time.monotonic() + (self.active_interval if closed else self.idle_interval)
        return running.meter.telemetry(now)

    def _publish(self, running: _Running, messages: list[Message]) -> None:
        for message in messages:
            running.link.publish(message)

    def _guarded(self, work, *args) -> None:
        """Run one meter's work; a failure is logged and counted and cannot stop the fleet."""
        try:
            work(*args)
        except Exception:
            self.errors += 1
            log.exception("simulated meter work failed")

    def _enqueue_command(self, serial: str, command: Command) -> None:
        self._commands.put((serial, command))

    def _status(self, meter: SimulatedMeter, state: Literal["online", "offline"]) -> Status:
        return meter.status(state, self._now())

    def _now(self) -> datetime:
        return self._wall0 + timedelta(seconds=time.monotonic() - self._mono0)

    @staticmethod
    def _wait_published(infos: list, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for info in infos:
            if published(info):
                info.wait_for_publish(max(0.0, deadline - time.monotonic()))
