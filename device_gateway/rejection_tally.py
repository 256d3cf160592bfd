"""Rejected messages counted in memory per (source, kind) until the next write to the quarantine.

Adding is a dictionary update, with no database round trip, so a flood of bad messages costs about
what parsing them costs. Memory is bounded whatever arrives: at most `max_keys` keys (the rest are
counted under the quarantine's overflow source), each with two samples cut to the quarantine's size.
"""
from dataclasses import dataclass
from datetime import datetime

from backend.meters.models import SAMPLE_CHARS, RejectionKind
from backend.meters.quarantine import OVERFLOW_SOURCE, RejectionCount, RejectionSample


@dataclass
class _Pending:
    count: int
    first: RejectionSample
    last: tuple[datetime, str, str, bytes]  # made a sample only when drained: most are overwritten first


class RejectionTally:
    """Not thread-safe: the thread that rejects also drains."""

    def __init__(self, max_keys: int = 1000):
        if max_keys < 1:
            raise ValueError("the tally needs room for at least one key")
        self.max_keys = max_keys
        self._pending: dict[tuple[str, RejectionKind], _Pending] = {}
        self.messages = 0  # counted since the last drain

    def add(self, source: str, kind: RejectionKind, topic: str, reason: str, payload: bytes, at: datetime) -> bool:
        """Count one rejected message; True when it is the first of its key since the last drain."""
        self.messages += 1
        key = (source, kind)
        if key not in self._pending and len(self._pending) >= self.max_keys:
            key = (OVERFLOW_SOURCE, kind)
        pending = self._pending.get(key)
        if pending is None:
            self._pending[key] = _Pending(1, RejectionSample.of(at, topic, reason, payload),
                                          (at, topic, reason, payload[:SAMPLE_CHARS]))
            return True
        pending.count += 1
        pending.last = (at, topic, reason, payload[:SAMPLE_CHARS])
        return False

    def drain(self) -> list[RejectionCount]:
        """Everything counted since the last drain, which starts afresh."""
        counts = [RejectionCount(source, kind, p.count, p.first, RejectionSample.of(*p.last))
                  for (source, kind), p in self._pending.items()]
        self._pending.clear()
        self.messages = 0
        return counts

    def restore(self, counts: list[RejectionCount]) -> None:
        """Put back counts that could not be written, ahead of what was counted since."""
        for count in counts:
            self.messages += count.count
            later = self._pending.get(count.key)
            if later is None:
                self._pending[count.key] = _Pending(count.count, count.first, _raw(count.last))
            else:
                later.count += count.count
                later.first = count.first

    def __len__(self) -> int:
        return len(self._pending)


def _raw(sample: RejectionSample) -> tuple[datetime, str, str, bytes]:
    return sample.at, sample.topic, sample.reason, sample.payload.encode()
