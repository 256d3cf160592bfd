"""The pure timeline: steps between an outlet's marks, owned by the open session or by nobody."""
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from backend.meters.register_rules import StepKind
from backend.reconciliation import timeline
from backend.reconciliation.period_energy import PeriodEnergy
from backend.reconciliation.timeline import Mark, MarkKind, OwnedStep, StepAnomaly, tally, walk
from billing.tariffs import load_seed_tariff, split_by_tariff_period

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 3, 8, 0, tzinfo=SHANGHAI)
POWER = Decimal("7360")


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def reading(minutes: float, wh: int, boot: str | None = "a") -> Mark:
    return Mark(at(minutes), wh, boot)


def start(minutes: float, wh: int, session: int, boot: str | None = "a") -> Mark:
    return Mark(at(minutes), wh, boot, MarkKind.START, session)


def stop(minutes: float, wh: int, session: int, boot: str | None = "a") -> Mark:
    return Mark(at(minutes), wh, boot, MarkKind.STOP, session)


def steps(marks) -> list[tuple[int | None, int]]:
    ordered = sorted(marks, key=Mark.order)
    return [(e.owner, e.energy_wh) for e in walk(ordered, POWER) if isinstance(e, OwnedStep)]


def test_steps_inside_a_session_are_its_own_and_the_rest_are_nobodys():
    marks = [reading(0, 1000), reading(15, 1040), start(15, 1040, 7), reading(30, 1500), stop(45, 1900, 7),
             reading(60, 1925)]
    assert steps(marks) == [(None, 40), (7, 0), (7, 460), (7, 400), (None, 25)]


def test_at_one_instant_the_lower_register_comes_first():
    # Telemetry sent in the same second as the start ack, just before it: its Wh is not the session's.
    marks = [reading(0, 1000), start(15, 1001, 7), reading(15, 1000), reading(30, 1300), stop(30, 1300, 7)]
    assert steps(marks) == [(None, 0), (None, 1), (7, 299), (7, 0)]


def test_a_session_that_starts_and_stops_at_once_closes():
    marks = [reading(0, 1000), start(10, 1000, 7), stop(10, 1000, 7), reading(20, 1100)]
    assert steps(marks)[-1] == (None, 100)


def test_an_ack_without_a_boot_id_belongs_to_the_boot_last_heard():
    marks = [reading(0, 1000), start(5, 1010, 7, boot=None), reading(10, 1100), stop(15, 1200, 7, boot=None)]
    events = list(walk(marks, POWER))
    assert not [e for e in events if isinstance(e, StepAnomaly)]
    assert [(e.owner, e.energy_wh) for e in events] == [(None, 10), (7, 90), (7, 100)]


def test_a_reset_between_sessions_is_an_anomaly_of_nobody_and_bills_nothing():
    marks = [reading(0, 910_000), reading(5, 0, boot="b"), reading(10, 50, boot="b")]
    events = list(walk(marks, POWER))
    assert [(e.owner, e.energy_wh) for e in events if isinstance(e, OwnedStep)] == [(None, 0), (None, 50)]
    [anomaly] = [e for e in events if isinstance(e, StepAnomaly)]
    assert anomaly.owner is None and anomaly.kind is StepKind.METER_RESET and anomaly.at == at(5)


def test_long_idle_stretches_are_judged_in_chunks_with_the_same_total(monkeypatch):
    marks = [reading(minute, 1000 + 3 * minute) for minute in range(200)]
    whole = steps(marks)
    monkeypatch.setattr(timeline, "IDLE_CHUNK_MARKS", 7)
    chunked = steps(marks)
    assert chunked == whole and sum(wh for _, wh in whole) == 3 * 199


def test_tally_counts_idle_steps_by_their_closing_mark_and_sessions_by_their_period():
    events = [OwnedStep(None, at(-10), at(0), 5), OwnedStep(None, at(0), at(10), 7), OwnedStep(3, at(10), at(20), 100),
              OwnedStep(4, at(20), at(30), 50), OwnedStep(None, at(30), at(60), 9)]
    counted = tally(events, at(0), at(60), sessions_here={3})
    # The step closing at the start is in; the one closing at the end is the next period's; session 4 is elsewhere.
    assert (counted.register_delta_wh, counted.unattributed_wh, counted.by_session) == (112, 12, {3: 100})


def test_unattributed_energy_is_priced_per_period_and_rounded_once_per_line():
    tariff = load_seed_tariff("jiangsu_commercial_tou_2025")
    energy = PeriodEnergy(tariff)
    # 08:00–11:20, 1 Wh a minute: 120 Wh flat then 80 Wh valley; rounding each step would make every one 0.00.
    for minute in range(200):
        energy.add(at(minute), at(minute + 1), 1)
    # 14:30–15:30 crosses flat → peak (the autumn peak starts at 15:00) and is split as a session would be.
    energy.add(at(390), at(450), 600)
    crossing = split_by_tariff_period([(at(390), 0), (at(450), 600)], tariff)
    assert [(line.period, line.energy_wh) for line in crossing] == [("flat", 300), ("peak", 300)]
    assert [(line.period, line.energy_wh, line.amount) for line in energy.lines()] == [
        ("flat", 420, Decimal("0.28")), ("valley", 80, Decimal("0.02")), ("peak", 300, Decimal("0.32"))]
    assert energy.energy_wh == 800


@st.composite
def outlet_days(draw):
    """Readings every minute with a non-decreasing register, and non-overlapping sessions between them."""
    count = draw(st.integers(2, 60))
    rises = draw(st.lists(st.integers(0, 120), min_size=count, max_size=count))
    registers = [1000 + sum(rises[:i + 1]) for i in range(count)]
    cuts = sorted(set(draw(st.lists(st.integers(0, count - 1), max_size=8))))
    sessions = [(cuts[i], cuts[i + 1]) for i in range(0, len(cuts) - 1, 2)]
    return registers, sessions


@settings(max_examples=200, deadline=None)
@given(outlet_days())
def test_every_wh_is_in_exactly_one_session_or_unattributed(day):
    registers, sessions = day
    marks = [reading(i, wh) for i, wh in enumerate(registers)]
    for number, (first, last) in enumerate(sessions, start=1):
        marks += [start(first, registers[first], number), stop(last, registers[last], number)]
    counted = tally(walk(sorted(marks, key=Mark.order), POWER), at(0), at(len(registers)), range(1, 99))
    assert counted.register_delta_wh == registers[-1] - registers[0]
    for number, (first, last) in enumerate(sessions, start=1):
        assert counted.by_session.get(number, 0) == registers[last] - registers[first]
    assert counted.unattributed_wh == counted.register_delta_wh - counted.attributed_wh >= 0


def test_flat_runs_of_an_idle_outlet_keep_only_their_ends():
    marks = [reading(0, 1000), *[reading(m, 1000) for m in range(1, 50)], reading(50, 1000), reading(51, 1003),
             start(52, 1003, 7, boot=None), reading(53, 1003), reading(54, 1003), stop(55, 1003, 7)]
    kept = list(timeline.without_flat_interiors(marks))
    assert [(m.time, m.kind) for m in kept] == [(at(0), MarkKind.READING), (at(50), MarkKind.READING),
                                                (at(51), MarkKind.READING), (at(52), MarkKind.START),
                                                (at(53), MarkKind.READING), (at(55), MarkKind.STOP)]
    # Judged, the ack takes the boot last heard, so the session's own flat readings go too.
    assert steps(marks) == [(None, 0), (None, 3), (None, 0), (7, 0)]
