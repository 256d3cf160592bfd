"""Properties of the meter's energy register under random loads, steps and commands."""
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from device_gateway.protocol import Ack, Command, SessionEnded
from firmware_sim.loads import PROFILES, constant
from firmware_sim.meter import DEADLINE_PASSED, SimulatedMeter

T0 = datetime(2026, 4, 1, tzinfo=UTC)

loads = st.one_of(
    st.builds(constant, st.floats(0, 20_000)),
    st.builds(lambda make, seed: make(seed), st.sampled_from(list(PROFILES.values())), st.integers(0, 2**32)),
)
initial_registers = st.floats(0, 1e6)
limits = st.none() | st.integers(0, 5000)
steps = st.lists(st.floats(0, 900), max_size=40)
ops = st.lists(
    st.one_of(
        st.tuples(st.just("close"), st.integers(1, 4), limits),
        st.tuples(st.just("open"), st.integers(1, 4), st.none()),
        st.tuples(st.just("wait"), st.floats(0, 900), st.none()),
        st.tuples(st.just("repeat"), st.integers(0, 100), st.none()),
    ),
    max_size=40,
)


def started_meter(load, initial_wh, limit):
    meter = SimulatedMeter("SPX", 1, loads={1: load}, registers_wh={1: initial_wh})
    meter.advance(T0)
    cmd = Command(cmd_id="c", action="close", ch=1, session_id=1, energy_limit_wh=limit, deadline=T0)
    meter.handle_command(cmd, T0)
    return meter


@settings(max_examples=200, deadline=None)
@given(loads, initial_registers, limits, steps)
def test_register_never_decreases_nor_passes_the_cutoff(load, initial_wh, limit, seconds):
    meter = started_meter(load, initial_wh, limit)
    cutoff = meter.outlets[1].cutoff_wh
    now, previous = T0, meter.register_wh(1)
    for dt in seconds:
        now += timedelta(seconds=dt)
        ended = [m for m in meter.advance(now) if isinstance(m, SessionEnded)]
        register = meter.register_wh(1)
        assert register >= previous
        if cutoff is not None:
            assert register <= cutoff
            assert all(e.energy_wh == cutoff == register for e in ended)
        previous = register


@settings(max_examples=200, deadline=None)
@given(st.floats(0, 20_000), initial_registers, limits, steps)
def test_per_step_increments_add_up_to_the_register(watts, initial_wh, limit, seconds):
    meter = started_meter(constant(watts), initial_wh, limit)
    cutoff = meter.outlets[1].cutoff_wh
    now, increments, before = T0, [], meter.outlets[1].energy_wh
    for dt in seconds:
        now += timedelta(seconds=dt)
        meter.advance(now)
        increments.append(meter.outlets[1].energy_wh - before)
        before = meter.outlets[1].energy_wh
    final = meter.outlets[1].energy_wh
    elapsed_s = sum(timedelta(seconds=dt).total_seconds() for dt in seconds)  # as the clock ticks, in µs
    drawn = initial_wh + watts * elapsed_s / 3600
    expected = drawn if cutoff is None else max(initial_wh, min(drawn, cutoff))
    assert abs(initial_wh + sum(increments) - final) <= 1e-6 * max(1.0, final)
    assert abs(final - expected) <= 1e-6 * max(1.0, expected)


@settings(max_examples=300, deadline=None)
@given(loads, initial_registers, ops)
def test_receipts_add_up_to_the_register_delta(load, initial_wh, operations):
    """Energy flows only during sessions, so the receipts account for every Wh the meter counted."""
    meter = SimulatedMeter("SPX", 1, loads={1: load}, registers_wh={1: initial_wh})
    meter.advance(T0)
    starts, stops, acks, sent, now = {}, {}, {}, [], T0

    def record(messages):
        for m in messages:
            if isinstance(m, Ack) and m.cmd_id in acks and acks[m.cmd_id].reason != DEADLINE_PASSED:
                assert m.model_dump(exclude={"seq"}) == acks[m.cmd_id].model_dump(exclude={"seq"})
                continue
            if isinstance(m, Ack):
                acks[m.cmd_id] = m
            if isinstance(m, Ack) and m.result == "ok" and m.action == "close":
                starts.setdefault(m.session_id, m.energy_wh)
            elif (isinstance(m, Ack) and m.result == "ok") or isinstance(m, SessionEnded):
                if m.session_id in starts:
                    assert stops.setdefault(m.session_id, m.energy_wh) == m.energy_wh

    def send(cmd):
        sent.append(cmd)
        record(meter.handle_command(cmd, now))

    for kind, arg, limit in operations:
        if kind == "wait":
            now += timedelta(seconds=arg)
            record(meter.advance(now))
        elif kind == "repeat":
            if sent:
                send(sent[arg % len(sent)])
        else:
            send(Command(cmd_id=f"c{len(sent)}", action=kind, ch=1, session_id=arg,
                         energy_limit_wh=limit, deadline=now))
    for session_id in set(starts) - set(stops):
        send(Command(cmd_id="final", action="open", ch=1, session_id=session_id, deadline=now))

    receipts = sum(stops[s] - starts[s] for s in starts)
    assert all(stops[s] >= starts[s] for s in starts)
    assert receipts == meter.register_wh(1) - int(initial_wh)
