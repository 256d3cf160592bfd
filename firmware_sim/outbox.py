"""A meter's uplink buffer, like its flash: messages wait here, in order, until the network takes them."""
from collections import deque
from collections.abc import Iterator

from device_gateway.protocol import Message, Telemetry

DEFAULT_CAPACITY = 10_000


class Outbox:
    """Bounded and ordered; when full it drops the oldest telemetry, never an ack or a session record.

    `capacity` counts what waits here plus what the network holds unacknowledged (`in_flight`),
    as both are still in the meter's flash.
    """

    def __init__(self, capacity: int = DEFAULT_CAPACITY):
        if capacity < 1:
            raise ValueError(f"an outbox holds at least one message, not {capacity}")
        self.capacity = capacity
        self.in_flight = 0
        self.dropped = 0
        self._waiting: deque[Message] = deque()

    def __len__(self) -> int:
        return len(self._waiting)

    def __iter__(self) -> Iterator[Message]:
        return iter(self._waiting)

    @property
    def occupied(self) -> int:
        return len(self._waiting) + self.in_flight

    def put(self, message: Message) -> None:
        self._waiting.append(message)
        while self.occupied > self.capacity and self._drop_oldest_telemetry():
            pass

    def take(self) -> Message | None:
        """The oldest waiting message, or None."""
        return self._waiting.popleft() if self._waiting else None

    def _drop_oldest_telemetry(self) -> bool:
        for index, message in enumerate(self._waiting):
            if isinstance(message, Telemetry):
                del self._waiting[index]
                self.dropped += 1
                return True
        return False  # only acks and session records wait: they are kept beyond the capacity
