"""How many messages one meter may send: a token bucket per meter, pure and clock-free (docs/protocol.md).

The caller passes the time (a monotonic clock in seconds), so the same code limits live traffic in the
gateway, paces the simulator's uplink, and runs in property tests without sleeping.
"""
from dataclasses import dataclass

from device_gateway.protocol import MAX_UPLINK_BURST, MAX_UPLINK_RATE_PER_S

# Every key beyond `max_keys` shares this one bucket: minting topic names cannot grow the limiter's memory.
OVERFLOW_KEY = "*"
# A full limiter looks for refilled buckets to forget at most this often, so a storm of new keys costs no scans.
SWEEP_EVERY_S = 1.0


@dataclass(frozen=True)
class RateLimit:
    """`per_second` on average, at most `burst` at once."""

    per_second: float
    burst: int

    def __post_init__(self):
        if not self.per_second > 0 or self.burst < 1:
            raise ValueError(f"a rate limit needs a positive rate and a burst of at least 1, not {self}")


PROTOCOL_LIMIT = RateLimit(MAX_UPLINK_RATE_PER_S, MAX_UPLINK_BURST)


class TokenBucket:
    """One sender's allowance: refills at the limit's rate up to its burst; each message takes one token."""

    __slots__ = ("limit", "tokens", "at")

    def __init__(self, limit: RateLimit, now: float):
        self.limit = limit
        self.tokens = float(limit.burst)
        self.at = now

    def level(self, now: float) -> float:
        """Tokens available at `now` (a clock that goes back is taken as standing still)."""
        return min(float(self.limit.burst), self.tokens + max(0.0, now - self.at) * self.limit.per_second)

    def take(self, now: float) -> bool:
        """Spend one token if there is one."""
        self.tokens, self.at = self.level(now), max(now, self.at)
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    def full(self, now: float) -> bool:
        return self.level(now) >= self.limit.burst


class MeterRateLimiter:
    """A token bucket per key (a meter's serial). Not thread-safe: one thread admits.

    A bucket that has refilled is the same as no bucket, so those are forgotten when room is needed:
    memory follows the meters sending now, not every meter ever seen.
    """

    def __init__(self, limit: RateLimit, max_keys: int = 100_000):
        if max_keys < 1:
            raise ValueError("the limiter needs room for at least one key")
        self.limit = limit
        self.max_keys = max_keys
        self._buckets: dict[str, TokenBucket] = {}
        self._swept_at: float | None = None

    def __len__(self) -> int:
        return len(self._buckets)

    def admit(self, key: str, now: float) -> bool:
        """True if the key's message is within its limit; False means drop it."""
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._new_bucket(key, now)
        return bucket.take(now)

    def _new_bucket(self, key: str, now: float) -> TokenBucket:
        if len(self._buckets) >= self.max_keys and (self._swept_at is None or now - self._swept_at >= SWEEP_EVERY_S):
            self._forget_full(now)
        if len(self._buckets) >= self.max_keys:
            key = OVERFLOW_KEY
            if key in self._buckets:
                return self._buckets[key]
        bucket = self._buckets[key] = TokenBucket(self.limit, now)
        return bucket

    def _forget_full(self, now: float) -> None:
        self._swept_at = now
        for key in [k for k, bucket in self._buckets.items() if bucket.full(now)]:
            del self._buckets[key]
