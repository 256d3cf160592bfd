"""PUBACKs in the order the PUBLISHes arrived (MQTT 3.1.1 §4.6), whichever lane finishes first."""
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class InOrderAcks(Generic[T]):
    """Hands out a ticket per arrival; releases finished messages only as an unbroken prefix.

    A fast ack in the control lane waits here for slower telemetry that arrived before it: only
    its PUBACK waits, never its effect (that was committed before it finished).
    """

    def __init__(self, send: Callable[[T], None]):
        self._send = send
        self._lock = threading.Lock()
        self._issued = 0
        self._next = 0
        self._finished: dict[int, T] = {}

    def ticket(self) -> int:
        """The next arrival's place in line (paho's thread, in arrival order)."""
        with self._lock:
            ticket, self._issued = self._issued, self._issued + 1
            return ticket

    def finished(self, ticket: int, item: T) -> None:
        """`item` may be acknowledged; send it and every later one that waited only for it."""
        with self._lock:
            self._finished[ticket] = item
            while self._next in self._finished:
                self._send(self._finished.pop(self._next))
                self._next += 1

    def waiting(self) -> int:
        with self._lock:
            return len(self._finished)
