"""A DTU's bus over MQTT: requests written to `down`, bytes from `up` fed to the bus, one request at a time."""
import threading
import time
from collections.abc import Callable

from device_gateway.dlt645 import dtu_packets
from device_gateway.dlt645.bus import Bus, Outcome
from device_gateway.dlt645.codec import Frame

Write = Callable[[bytes], None]


class BusLink:
    """Blocking exchanges on one DTU's bus; `received` is called from the MQTT thread with each `up` payload."""

    def __init__(self, dtu_id: str, write: Write, bus: Bus, clock: Callable[[], float] = time.monotonic):
        self.dtu_id = dtu_id
        self.bus = bus
        self._write = write
        self._clock = clock
        self._lock = threading.Condition()
        self._outcome: Outcome | None = None
        self.last_heard = clock()
        self.heard_anything = False
        self.registrations = 0

    def received(self, payload: bytes) -> None:
        """Bytes from the DTU (raw bus bytes, or its registration or heartbeat packet)."""
        with self._lock:
            self.last_heard = self._clock()
            self.heard_anything = True
            kind = dtu_packets.packet_kind(payload, self.dtu_id)
            if kind == "registration":
                self.registrations += 1
            if kind is not None:
                return
            outcome = self.bus.feed(payload, self._clock())
            if outcome is not None:
                self._outcome = outcome
                self._lock.notify_all()

    def exchange(self, request: Frame) -> Frame | None:
        """Send a request and wait for its reply through every retry; None when the bus stayed silent."""
        with self._lock:
            self._outcome = None
            wire = self.bus.request(request, self._clock())
        self._write(wire)
        while True:
            with self._lock:
                if self._outcome is not None:
                    return self._outcome.reply
                due = self.bus.tick(self._clock())
                if isinstance(due, Outcome):
                    return None
                if due is None:
                    self._lock.wait(max(0.0, (self.bus.deadline() or self._clock()) - self._clock()))
                    continue
            self._write(due)

    def silent_for(self) -> float:
        with self._lock:
            return self._clock() - self.last_heard
