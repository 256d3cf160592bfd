"""Whether the gateway is draining what the broker queued for it while it could not take messages.

While the gateway is away (disconnected, restarting, or held up by a database outage) the broker
queues every meter's messages; afterwards they arrive far faster than the meters sent them, so a rate
limit measured on arrival would drop an honest backlog. The gateway therefore sends itself a marker
(QoS 1) once it takes messages again: the broker queues it behind everything that waited, so when the
marker comes back the backlog has been drained and arrival times mean something again.
"""
import threading

# If a marker never comes back (a broker that lost it, an ACL that forbids it), limits apply again after this.
MARKER_TIMEOUT_S = 600.0


class CatchUp:
    """Holds (reasons the gateway cannot take messages) and the marker awaited. Thread-safe."""

    def __init__(self, marker_timeout_s: float = MARKER_TIMEOUT_S):
        self._lock = threading.Lock()
        self._holds: set[str] = set()
        self._next_marker = 1
        self._awaited: int | None = None
        self._deadline = 0.0
        self._timeout = marker_timeout_s

    def hold(self, reason: str) -> None:
        """Messages queue at the broker from now on (for `reason`, until it is released)."""
        with self._lock:
            self._holds.add(reason)

    def release(self, reason: str, now: float) -> int | None:
        """`reason` is over; returns the marker to send when nothing else holds, else None."""
        with self._lock:
            self._holds.discard(reason)
            if self._holds:
                return None
            marker, self._next_marker = self._next_marker, self._next_marker + 1
            self._awaited, self._deadline = marker, now + self._timeout
            return marker

    def marker_returned(self, marker: int) -> bool:
        """A marker came back; True when it ends the catching up."""
        with self._lock:
            if self._holds or self._awaited is None or marker < self._awaited:
                return False
            self._awaited = None
            return True

    def catching_up(self, now: float) -> bool:
        """True while held, or until the marker sent after the last hold comes back (or times out)."""
        with self._lock:
            return bool(self._holds) or (self._awaited is not None and now < self._deadline)

    def expired(self, now: float) -> bool:
        """True once when the awaited marker has not come back in time: limits apply again."""
        with self._lock:
            if self._holds or self._awaited is None or now < self._deadline:
                return False
            self._awaited = None
            return True

    @property
    def held(self) -> bool:
        with self._lock:
            return bool(self._holds)
