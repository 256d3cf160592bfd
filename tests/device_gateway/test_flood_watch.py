"""When a meter counts as flooding: from the first dropped message until `calm_after` seconds without one."""
from hypothesis import given
from hypothesis import strategies as st

from device_gateway.flood_watch import FloodWatch

CALM = 10.0


def test_a_meter_within_its_limit_never_floods():
    watch = FloodWatch(CALM)
    assert all(watch.observe("SP1", t, admitted=True) is None for t in range(100))
    assert watch.ongoing() == [] and watch.calmed(1000.0) == []


def test_the_first_drop_starts_an_episode_and_calm_ends_it():
    watch = FloodWatch(CALM)
    watch.observe("SP1", 0.0, admitted=True)
    started = watch.observe("SP1", 0.5, admitted=False)
    assert started is not None and (started.key, started.started_at, started.dropped) == ("SP1", 0.5, 1)
    assert watch.observe("SP1", 0.6, admitted=False) is None  # the same episode
    watch.observe("SP1", 3.0, admitted=True)
    assert watch.flooding("SP1")
    assert watch.calmed(0.6 + CALM - 0.1) == []
    [ended] = watch.calmed(0.6 + CALM)
    assert (ended.dropped, ended.received, ended.last_drop_at) == (2, 3, 0.6)
    assert not watch.flooding("SP1")


def test_the_peak_is_the_most_messages_received_in_one_second():
    watch = FloodWatch(CALM)
    watch.observe("SP1", 0.0, admitted=False)
    for index in range(1, 50):
        watch.observe("SP1", index / 100, admitted=index % 2 == 0)  # 50 in the first second
    for index in range(10):
        watch.observe("SP1", 2.0 + index / 20, admitted=False)  # 10 in a later one
    [episode] = watch.ongoing()
    assert (episode.peak_per_s, episode.received) == (50, 60)


events = st.lists(st.tuples(st.sampled_from(["SP1", "SP2", "SP3"]), st.integers(0, 40), st.booleans()), max_size=80)


@given(events)
def test_every_drop_is_counted_in_exactly_one_episode(arrivals):
    watch, now, ended = FloodWatch(CALM), 0.0, []
    for key, gap, admitted in arrivals:
        now += gap / 4
        ended += watch.calmed(now)
        watch.observe(key, now, admitted)
    episodes = ended + watch.ongoing()
    for key in ("SP1", "SP2", "SP3"):
        dropped = sum(1 for k, _, ok in arrivals if k == key and not ok)
        assert sum(e.dropped for e in episodes if e.key == key) == dropped
    assert all(e.dropped >= 1 and e.peak_per_s >= 1 and e.received >= e.dropped for e in episodes)
