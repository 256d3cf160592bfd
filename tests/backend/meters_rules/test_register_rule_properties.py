"""Properties of billable energy over any sequence of register readings."""
import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from backend.meters.register_rules import (
    ROLLOVER_WH,
    LiveTally,
    Reading,
    StepKind,
    advance,
    billable_energy,
    energy_without_stop,
    max_plausible_wh,
)
from device_gateway.protocol import Command
from firmware_sim.loads import constant
from firmware_sim.meter import SimulatedMeter

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)

powers = st.sampled_from([Decimal("2300"), Decimal("3680"), 7360, 1000])
tolerances = st.sampled_from([1, Decimal("1.2"), 1.5])
registers = st.one_of(
    st.integers(0, 5_000),
    st.integers(ROLLOVER_WH - 5_000, ROLLOVER_WH - 1),
    st.integers(0, 10**10),
)
any_reading = st.builds(
    Reading,
    boot_id=st.sampled_from(["a", "b", "c"]),
    seq=st.integers(0, 30),
    time=st.integers(-3_600_000, 7_200_000).map(lambda ms: T0 + timedelta(milliseconds=ms)),
    register_wh=registers,
)


def forward_time(readings):
    """Total time the clock moved forward over the sequence."""
    return sum((max(b.time - a.time, timedelta(0)) for a, b in zip(readings, readings[1:])), timedelta(0))


def strictly_plausible_wh(power, elapsed, tolerance):
    """What an outlet can deliver in elapsed at most, without the register's one-Wh step."""
    seconds = Fraction(elapsed // timedelta(microseconds=1), 1_000_000)
    return math.floor(Fraction(str(power)) * Fraction(str(tolerance)) * seconds / 3600)


@st.composite
def plausible_sessions(draw, boot="a", min_size=1, step_wh=None):
    """Same boot, rising seq and time, registers never falling and never faster than the outlet allows."""
    power, tolerance = draw(powers), draw(tolerances)
    register = draw(st.integers(1, 10**7))
    moment = T0 + timedelta(milliseconds=draw(st.integers(0, 10**6)))
    readings = [Reading(boot, 0, moment, register)]
    for seq in range(1, draw(st.integers(min_size, 15))):
        elapsed = timedelta(milliseconds=draw(st.integers(0, 3_600_000)))
        if step_wh is None:
            register += strictly_plausible_wh(power, elapsed, tolerance) * draw(st.integers(0, 1000)) // 1000
        else:
            register += step_wh(power, elapsed, tolerance)
        moment += elapsed
        readings.append(Reading(boot, seq, moment, register))
    return readings, power, tolerance


@settings(max_examples=200, deadline=None)
@given(st.lists(any_reading, min_size=1, max_size=12), powers, tolerances)
def test_billable_energy_is_never_negative_nor_more_than_the_outlet_can_deliver(readings, power, tolerance):
    verdict = billable_energy(readings, power, tolerance)
    assert 0 <= verdict.billable_wh <= max_plausible_wh(power, forward_time(readings), tolerance)
    assert verdict.needs_review == any(a.kind.needs_review for a in verdict.anomalies)


@settings(max_examples=100, deadline=None)
@given(st.lists(any_reading, min_size=1, max_size=12), powers, tolerances)
def test_with_a_steady_clock_the_bound_is_rated_power_times_session_time(readings, power, tolerance):
    readings = sorted(readings, key=lambda r: r.time)
    # rated power × total elapsed time × tolerance, plus the register's one-Wh step
    bound = max_plausible_wh(power, readings[-1].time - readings[0].time, tolerance)
    assert 0 <= billable_energy(readings, power, tolerance).billable_wh <= bound


@settings(max_examples=100, deadline=None)
@given(plausible_sessions(step_wh=max_plausible_wh))
def test_steps_each_at_the_edge_of_plausible_cannot_add_up_past_the_bound(session):
    readings, power, tolerance = session
    verdict = billable_energy(readings, power, tolerance)
    assert verdict.billable_wh <= max_plausible_wh(power, readings[-1].time - readings[0].time, tolerance)


@settings(max_examples=200, deadline=None)
@given(plausible_sessions())
def test_a_session_without_anomalies_bills_exactly_last_minus_first(session):
    readings, power, tolerance = session
    verdict = billable_energy(readings, power, tolerance)
    assert verdict.billable_wh == readings[-1].register_wh - readings[0].register_wh
    assert verdict.anomalies == ()


@settings(max_examples=150, deadline=None)
@given(plausible_sessions(min_size=2), st.data())
def test_a_reset_never_bills_more_than_the_plausible_segments_around_it(session, data):
    readings, power, tolerance = session
    k = data.draw(st.integers(1, len(readings) - 1), label="reset before reading")
    base = data.draw(st.integers(0, readings[k - 1].register_wh - 1), label="register after the reset")
    shift = base - readings[k].register_wh
    after = [Reading("b", i, r.time, r.register_wh + shift) for i, r in enumerate(readings[k:])]
    verdict = billable_energy(readings[:k] + after, power, tolerance)
    before_reset = readings[k - 1].register_wh - readings[0].register_wh
    after_reset = readings[-1].register_wh - readings[k].register_wh
    assert verdict.billable_wh == before_reset + after_reset
    assert verdict.billable_wh <= billable_energy(readings, power, tolerance).billable_wh
    assert verdict.anomalies[0].index == k and verdict.anomalies[0].kind is StepKind.METER_RESET
    assert verdict.needs_review


@settings(max_examples=200, deadline=None)
@given(plausible_sessions(), st.integers(0, 10**6))
def test_a_register_that_wraps_bills_as_if_it_had_not(session, below_top):
    readings, power, tolerance = session
    shift = ROLLOVER_WH - below_top - readings[0].register_wh
    wrapped = [Reading(r.boot_id, r.seq, r.time, (r.register_wh + shift) % ROLLOVER_WH) for r in readings]
    verdict = billable_energy(wrapped, power, tolerance)
    assert verdict.billable_wh == readings[-1].register_wh - readings[0].register_wh
    assert {a.kind for a in verdict.anomalies} <= {StepKind.ROLLOVER}
    assert not verdict.needs_review


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 3_600_000), st.integers(0, 50_000)), min_size=1, max_size=12),
       st.integers(0, 10**6), powers, tolerances)
def test_within_one_boot_no_wh_of_the_register_is_billed_twice(steps, start, power, tolerance):
    readings = [Reading("a", 0, T0, start)]
    for seq, (ms, register) in enumerate(steps, start=1):
        readings.append(Reading("a", seq, readings[-1].time + timedelta(milliseconds=ms), register))
    verdict = billable_energy(readings, power, tolerance)
    assert verdict.billable_wh <= max(0, max(r.register_wh for r in readings) - start)


@settings(max_examples=100, deadline=None)
@given(st.lists(any_reading, min_size=1, max_size=8), powers, tolerances)
def test_without_a_stop_the_bill_is_the_same_but_flagged(readings, power, tolerance):
    verdict = energy_without_stop(readings, power, tolerance)
    assert verdict.billable_wh == billable_energy(readings, power, tolerance).billable_wh
    assert verdict.anomalies[-1].kind is StepKind.MISSING_STOP
    assert verdict.needs_review


@settings(max_examples=100, deadline=None)
@given(st.sampled_from([2300, 3680]), st.floats(0, 1), st.floats(0, 1e6),
       st.lists(st.floats(0, 900), min_size=1, max_size=40))
def test_an_honest_simulated_meter_is_never_flagged(power, load_share, initial_wh, steps):
    meter = SimulatedMeter("SPX", 1, boot_id="boot1", loads={1: constant(power * load_share)},
                           registers_wh={1: initial_wh})
    cmd = Command(cmd_id="c", action="close", ch=1, session_id=1, deadline=T0 + timedelta(hours=1))
    (ack,) = meter.handle_command(cmd, T0)
    readings = [Reading(ack.boot_id, ack.seq, ack.ts, ack.energy_wh)]
    now = T0
    for seconds in steps:
        now += timedelta(seconds=seconds)
        meter.advance(now)
        telemetry = meter.telemetry(now)
        readings.append(Reading(telemetry.boot_id, telemetry.seq, telemetry.ts, telemetry.outlets[0].energy_wh))
    verdict = billable_energy(readings, power)
    assert verdict.anomalies == ()
    assert verdict.billable_wh == readings[-1].register_wh - readings[0].register_wh


@settings(max_examples=200, deadline=None)
@given(st.lists(any_reading, min_size=1, max_size=12), powers, tolerances)
def test_the_live_tally_never_goes_down_whatever_the_register_does(readings, power, tolerance):
    tally = LiveTally.starting_at(readings[0])
    for reading in readings[1:]:
        after = advance(tally, reading, power, tolerance)
        assert after.energy_wh >= tally.energy_wh
        assert not tally.review or after.review == tally.review  # the first reason to review stays shown
        tally = after


@st.composite
def readings_in_order(draw):
    """Rising seq within each boot, boots never revisited, any registers: resets, rollovers, jumps."""
    boots = draw(st.lists(st.integers(1, 6), min_size=1, max_size=3))
    readings, moment = [], T0
    for boot, count in enumerate(boots):
        for seq in range(count):
            moment += timedelta(milliseconds=draw(st.integers(0, 7_200_000)))
            readings.append(Reading(f"boot{boot}", seq, moment, draw(registers)))
    return readings


@settings(max_examples=300, deadline=None)
@given(readings_in_order(), powers, tolerances)
def test_in_order_the_live_tally_is_what_the_bill_will_say(readings, power, tolerance):
    tally = LiveTally.starting_at(readings[0])
    for reading in readings[1:]:
        tally = advance(tally, reading, power, tolerance)
    verdict = billable_energy(readings, power, tolerance)
    assert tally.energy_wh == verdict.billable_wh
    assert bool(tally.review) == verdict.needs_review
