"""The per-meter token bucket: examples, and the invariants that make it a rate limit and not a guess."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from device_gateway.protocol import MAX_UPLINK_BURST, MAX_UPLINK_RATE_PER_S
from device_gateway.rate_limit import PROTOCOL_LIMIT, MeterRateLimiter, RateLimit

LIMIT = RateLimit(per_second=4, burst=3)

# Times in sixteenths of a second and rates that are powers of two keep every sum exact in binary floating point.
TICK = 1 / 16
rates = st.sampled_from([0.5, 1.0, 2.0, 4.0, 8.0])
bursts = st.integers(min_value=1, max_value=6)
gaps = st.lists(st.integers(min_value=0, max_value=24), min_size=1, max_size=40)


def arrival_times(gap_ticks: list[int]) -> list[float]:
    times, now = [], 0.0
    for gap in gap_ticks:
        now += gap * TICK
        times.append(now)
    return times


def conforms(times: list[float], limit: RateLimit) -> bool:
    """The arrival curve of a (rate, burst) bucket: no window holds more than burst + rate × its length."""
    return all(j - i + 1 <= limit.burst + limit.per_second * (times[j] - times[i])
               for i in range(len(times)) for j in range(i, len(times)))


def test_a_burst_passes_then_the_excess_is_dropped_until_tokens_come_back():
    limiter = MeterRateLimiter(LIMIT)
    assert [limiter.admit("SP1", 0.0) for _ in range(4)] == [True, True, True, False]
    assert not limiter.admit("SP1", 0.2)  # 0.8 of a token
    assert limiter.admit("SP1", 0.25)
    assert not limiter.admit("SP1", 0.25)


def test_meters_have_buckets_of_their_own():
    limiter = MeterRateLimiter(LIMIT)
    assert all(limiter.admit("SP1", 0.0) for _ in range(3))
    assert not limiter.admit("SP1", 0.0)
    assert all(limiter.admit("SP2", 0.0) for _ in range(3))


def test_a_clock_that_steps_back_gives_no_tokens():
    limiter = MeterRateLimiter(LIMIT)
    for _ in range(3):
        limiter.admit("SP1", 10.0)
    assert not limiter.admit("SP1", 5.0)
    assert not limiter.admit("SP1", 10.2)
    assert limiter.admit("SP1", 10.25)


def test_the_protocol_limit_is_what_docs_protocol_states():
    assert (PROTOCOL_LIMIT.per_second, PROTOCOL_LIMIT.burst) == (MAX_UPLINK_RATE_PER_S, MAX_UPLINK_BURST)


@pytest.mark.parametrize("per_second, burst", [(0, 10), (-1, 10), (5, 0)])
def test_a_limit_must_let_something_through(per_second, burst):
    with pytest.raises(ValueError):
        RateLimit(per_second, burst)


@given(rates, bursts, gaps)
def test_no_window_admits_more_than_burst_plus_rate_times_its_length(rate, burst, gap_ticks):
    limit, times = RateLimit(rate, burst), arrival_times(gap_ticks)
    limiter = MeterRateLimiter(limit)
    admitted = [t for t in times if limiter.admit("SP1", t)]
    assert conforms(admitted, limit)


@given(rates, bursts, gaps)
def test_a_meter_keeping_to_its_limit_loses_nothing_and_one_exceeding_it_loses_something(rate, burst, gap_ticks):
    limit, times = RateLimit(rate, burst), arrival_times(gap_ticks)
    limiter = MeterRateLimiter(limit)
    assert all(limiter.admit("SP1", t) for t in times) == conforms(times, limit)


@given(rates, bursts, gaps, gaps)
def test_another_meter_sending_changes_nothing_for_this_one(rate, burst, mine, theirs):
    limit = RateLimit(rate, burst)
    alone = MeterRateLimiter(limit)
    expected = [alone.admit("SP1", t) for t in arrival_times(mine)]
    shared = MeterRateLimiter(limit)
    arrivals = sorted([(t, "SP1") for t in arrival_times(mine)] + [(t, "SP2") for t in arrival_times(theirs)])
    decisions = [(key, shared.admit(key, t)) for t, key in arrivals]
    assert [ok for key, ok in decisions if key == "SP1"] == expected


@given(st.lists(st.tuples(st.integers(0, 50), st.integers(0, 8)), min_size=1, max_size=200))
def test_memory_stays_bounded_however_many_keys_arrive(arrivals):
    limiter = MeterRateLimiter(RateLimit(2.0, 2), max_keys=5)
    now = 0.0
    for key, gap in arrivals:
        now += gap * TICK
        limiter.admit(f"SP{key}", now)
        assert len(limiter) <= limiter.max_keys + 1


def test_keys_beyond_the_bound_share_one_bucket_until_full_buckets_can_be_forgotten():
    limiter = MeterRateLimiter(RateLimit(1.0, 1), max_keys=2)
    assert limiter.admit("SP1", 0.0) and limiter.admit("SP2", 0.0)
    assert limiter.admit("SP3", 0.0)  # the overflow bucket's one token
    assert not limiter.admit("SP4", 0.0)  # the same bucket
    # Later every bucket has refilled, so they are forgotten and new meters get buckets of their own again.
    assert limiter.admit("SP5", 5.0) and limiter.admit("SP6", 5.0)
    assert limiter.admit("SP7", 5.0) and not limiter.admit("SP8", 5.0)  # full again: SP7 and SP8 share
