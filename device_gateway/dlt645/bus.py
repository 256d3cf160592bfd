"""One RS-485 bus behind a DTU: one request at a time, a timeout, retries; replies matched, strays counted.

Pure: the caller passes the time and moves the bytes, so tests run it on a fake clock.
"""
from dataclasses import dataclass, field

from device_gateway.dlt645 import codec
from device_gateway.dlt645.codec import Frame, FrameReader

DEFAULT_TIMEOUT_S = 2.5  # a 4G round trip plus a 2400-baud exchange on the bus; often 0.5–1.5 s
DEFAULT_RETRIES = 2


class BusBusy(RuntimeError):
    """A request was made while another is outstanding."""


@dataclass(frozen=True)
class Outcome:
    """How a request ended: its reply, or None when every try timed out."""

    request: Frame
    reply: Frame | None
    tries: int


@dataclass
class _Outstanding:
    request: Frame
    wire: bytes
    sent_at: float
    tries: int = 1


@dataclass
class Bus:
    timeout_s: float = DEFAULT_TIMEOUT_S
    retries: int = DEFAULT_RETRIES
    unsolicited: int = 0  # frames nobody asked for (late replies, other masters, echoes), dropped
    timeouts: int = 0  # tries that got no answer in time
    _reader: FrameReader = field(default_factory=FrameReader)
    _outstanding: _Outstanding | None = None

    @property
    def busy(self) -> bool:
        return self._outstanding is not None

    def request(self, frame: Frame, now: float) -> bytes:
        """Start a request; return the bytes to write to the bus."""
        if self._outstanding is not None:
            raise BusBusy(f"a request to {self._outstanding.request.address} is outstanding")
        wire = codec.encode(frame)
        self._outstanding = _Outstanding(frame, wire, now)
        return wire

    def feed(self, chunk: bytes, now: float) -> Outcome | None:
        """Bytes from the bus; the outcome when they complete the reply to the outstanding request."""
        outcome = None
        for frame in self._reader.feed(chunk):
            if outcome is None and self._answers(frame):
                outcome = Outcome(self._outstanding.request, frame, self._outstanding.tries)
                self._outstanding = None
            else:
                self.unsolicited += 1
        return outcome

    def tick(self, now: float) -> bytes | Outcome | None:
        """On a timeout: the bytes to write again, or the outcome once retries are spent; else None."""
        pending = self._outstanding
        if pending is None or now - pending.sent_at < self.timeout_s:
            return None
        self.timeouts += 1
        if pending.tries > self.retries:
            self._outstanding = None
            return Outcome(pending.request, None, pending.tries)
        pending.tries += 1
        pending.sent_at = now
        return pending.wire

    def deadline(self) -> float | None:
        """When `tick` next has something to do."""
        return None if self._outstanding is None else self._outstanding.sent_at + self.timeout_s

    def _answers(self, frame: Frame) -> bool:
        asked = self._outstanding
        return (asked is not None and frame.is_reply and frame.address == asked.request.address
                and frame.function == asked.request.function and _same_item(asked.request, frame))


def _same_item(request: Frame, reply: Frame) -> bool:
    """A normal read reply names the identifier asked for; an error reply names none."""
    if request.function != codec.Function.READ or reply.is_error:
        return True
    return reply.data[:4] == request.data[:4]
