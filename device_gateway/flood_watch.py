"""Which meters are flooding: from the first message their rate limit drops until they stay within it.

Pure and clock-free like `rate_limit`: the caller feeds each message's key, arrival time and whether it
was admitted, and asks now and then which episodes have ended.
"""
from dataclasses import dataclass, field


@dataclass
class Episode:
    """One meter's flood, from its first dropped message to the last."""

    key: str
    started_at: float
    last_drop_at: float
    dropped: int = 0
    received: int = 0
    peak_per_s: int = 0  # the most messages received in one second of the episode
    _second_began: float = field(default=0.0, repr=False)
    _in_second: int = field(default=0, repr=False)

    def count(self, at: float, admitted: bool) -> None:
        self.received += 1
        if not admitted:
            self.dropped += 1
            self.last_drop_at = max(self.last_drop_at, at)
        if at - self._second_began >= 1.0:
            self._second_began, self._in_second = at, 0
        self._in_second += 1
        self.peak_per_s = max(self.peak_per_s, self._in_second)


class FloodWatch:
    """Open episodes by key. An episode ends once `calm_after` seconds pass without a drop. Not thread-safe."""

    def __init__(self, calm_after: float = 60.0):
        if calm_after <= 0:
            raise ValueError("calm_after must be positive")
        self.calm_after = calm_after
        self._episodes: dict[str, Episode] = {}

    def observe(self, key: str, at: float, admitted: bool) -> Episode | None:
        """Count one message; return the episode if this message started one."""
        episode = self._episodes.get(key)
        if episode is None:
            if admitted:
                return None  # a meter within its limit costs nothing here
            episode = self._episodes[key] = Episode(key, at, at, _second_began=at)
            episode.count(at, admitted)
            return episode
        episode.count(at, admitted)
        return None

    def flooding(self, key: str) -> bool:
        return key in self._episodes

    def ongoing(self) -> list[Episode]:
        return list(self._episodes.values())

    def calmed(self, now: float) -> list[Episode]:
        """Remove and return the episodes with no drop in the last `calm_after` seconds."""
        ended = [e for e in self._episodes.values() if now - e.last_drop_at >= self.calm_after]
        for episode in ended:
            del self._episodes[episode.key]
        return ended
