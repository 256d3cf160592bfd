"""Properties of the persistence rule and the limits, over any sequence of samples."""
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from backend.alarms.rules import (
    IDLE,
    AlarmKind,
    Change,
    Condition,
    OutletMeasure,
    Persistence,
    conditions_present,
    exact_conditions,
    plainly_within_limits,
    step,
)

T0 = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
KIND = AlarmKind.outlet_overload

policies = st.builds(Persistence, st.integers(1, 5), st.integers(1, 5))
# True = the condition is present in that sample; the value is the measured current.
samples = st.lists(st.tuples(st.booleans(), st.integers(161, 400)), max_size=60)


def run(flags, policy):
    """Feed (present, value) samples one second apart; return the transitions and the last watch."""
    watch, transitions = IDLE, []
    for i, (present, value) in enumerate(flags):
        condition = Condition(KIND, 1, Decimal(value) / 10, Decimal(16)) if present else None
        watch, transition = step(watch, KIND, condition, T0 + timedelta(seconds=i), policy)
        if transition:
            transitions.append(transition)
    return transitions, watch


def index(transition) -> int:
    return int((transition.at - T0).total_seconds())


def runs_of_present(flags) -> list[int]:
    lengths, current = [], 0
    for present, _ in flags:
        current = current + 1 if present else 0
        if present:
            lengths.append(current)
    return lengths


@given(st.lists(st.just((False, 0)), max_size=60), policies)
def test_in_range_data_never_opens_an_alarm(flags, policy):
    transitions, watch = run(flags, policy)
    assert transitions == [] and watch.idle


@given(samples, policies)
def test_noise_shorter_than_the_open_count_never_opens(flags, policy):
    noisy = [(p and runs_of_present(flags[: i + 1])[-1] < policy.open_after, v) for i, (p, v) in enumerate(flags)]
    assert run(noisy, policy)[0] == []


@given(samples, policies)
def test_alarms_alternate_and_never_overlap(flags, policy):
    transitions, watch = run(flags, policy)
    changes = [t.change for t in transitions]
    assert changes == [Change.opened, Change.closed] * (len(changes) // 2) + [Change.opened] * (len(changes) % 2)
    assert watch.is_open == (len(changes) % 2 == 1)
    times = [t.at for t in transitions]
    assert all(a < b for a, b in zip(times, times[1:]))


@given(samples, policies)
def test_opened_at_a_present_sample_and_closed_at_a_normal_one(flags, policy):
    for transition in run(flags, policy)[0]:
        present, _ = flags[index(transition)]
        assert present == (transition.change == Change.opened)


@given(samples, policies)
def test_a_sustained_excursion_leaves_an_alarm_open(flags, policy):
    for i in range(len(flags)):
        present_run = len(flags[: i + 1]) - max((j + 1 for j in range(i + 1) if not flags[j][0]), default=0)
        if present_run >= policy.open_after:
            assert run(flags[: i + 1], policy)[1].is_open


@given(samples, policies, st.integers(0, 5))
def test_every_opened_alarm_closes_when_data_returns_to_normal(flags, policy, extra):
    tail = [(False, 0)] * (policy.close_after + extra)
    transitions, watch = run(flags + tail, policy)
    assert watch.idle
    assert [t.change for t in transitions].count(Change.opened) == [t.change for t in transitions].count(Change.closed)


@given(st.integers(0, 10), policies, st.data())
def test_one_sustained_excursion_opens_exactly_one_alarm(lead, policy, data):
    # An excursion: at least N present samples, then anything without M normal samples in a row, then M normal.
    excursion = [(True, 200)] * data.draw(st.integers(policy.open_after, policy.open_after + 10))
    for _ in range(data.draw(st.integers(0, 5))):
        excursion += [(False, 0)] * data.draw(st.integers(0, policy.close_after - 1)) + [(True, 300)]
    flags = [(False, 0)] * lead + excursion + [(False, 0)] * policy.close_after
    transitions, _ = run(flags, policy)
    back_to_normal = len(flags) - policy.close_after
    assert [(t.change, index(t)) for t in transitions] == [(Change.opened, lead), (Change.closed, back_to_normal)]
    worst = max(v for p, v in excursion if p)
    assert transitions[0].worst == Decimal(200) / 10 and transitions[1].worst == Decimal(worst) / 10


in_range_volts = st.integers(1980, 2354).map(lambda tenths: tenths / 10)


@st.composite
def healthy_messages(draw):
    count = draw(st.integers(1, 8))
    rated = {ch: Decimal(draw(st.sampled_from([10, 16, 32]))) for ch in range(1, count + 1)}
    outlets = []
    for ch in range(1, count + 1):
        volts = draw(in_range_volts)
        amps = draw(st.integers(0, int(rated[ch] * 10))) / 10
        outlets.append(OutletMeasure(ch, volts, amps, round(volts * amps, 1)))
    total_kw = sum(Decimal(str(o.power_w)) for o in outlets) / 1000
    capacity = total_kw + Decimal(draw(st.integers(0, 50_000))) / 1000
    return outlets, rated, max(capacity, Decimal("0.001"))


@given(healthy_messages())
def test_in_range_telemetry_shows_no_condition(message):
    outlets, rated, capacity = message
    assert conditions_present(outlets, rated, capacity) == frozenset()


@given(st.lists(in_range_volts, min_size=1, max_size=8), st.integers(0, 7))
def test_one_outlet_out_of_range_names_only_that_outlet(volts, which):
    which = which % len(volts)
    outlets = [OutletMeasure(ch, v, 0, 0) for ch, v in enumerate(volts, start=1)]
    outlets[which] = OutletMeasure(which + 1, 240.0, 0, 0)
    found = conditions_present(outlets, {}, Decimal(10))
    assert {c.key for c in found} == {(AlarmKind.over_voltage, which + 1)}


# Values on and a hair either side of the limits (22 V dead, 198 V and 235.4 V, 16 A, the capacities).
volts = st.one_of(st.floats(0, 500, allow_nan=False),
                  st.sampled_from([19.8, 21.9999999, 22.0, 198.0, 197.99999, 235.4, 235.40000001, 235.39999]))
amps = st.one_of(st.floats(0, 40, allow_nan=False), st.sampled_from([16.0, 15.9999999, 16.0001]))
watts = st.one_of(st.floats(0, 12_000, allow_nan=False), st.sampled_from([2_750.0, 3_000.0]))
measures = st.lists(st.builds(OutletMeasure, st.integers(1, 4), volts, amps, watts),
                    min_size=1, max_size=4, unique_by=lambda m: m.channel)


@given(measures, st.sampled_from([Decimal("16"), Decimal("15.5"), Decimal("32")]),
       st.sampled_from([Decimal("11"), Decimal("5.5"), Decimal("30")]))
def test_the_quick_float_check_never_hides_a_condition_the_exact_rules_find(outlets, rated, capacity_kw):
    currents = {o.channel: rated for o in outlets}
    if plainly_within_limits(outlets, currents, capacity_kw):
        assert exact_conditions(outlets, currents, capacity_kw) == frozenset()
    assert conditions_present(outlets, currents, capacity_kw) == exact_conditions(outlets, currents, capacity_kw)
