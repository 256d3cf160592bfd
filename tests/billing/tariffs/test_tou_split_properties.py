from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.pricing import energy_amount
from billing.settlement import RegisterWentBackwards
from billing.tariffs import bill_total, load_tariff, period_in_effect, split_by_tariff_period, valley_equivalent
from billing.tariffs.clock import SHANGHAI
from billing.tariffs.interpolation import interpolated_register
from tests.billing.tariffs.tou_documents import jiangsu_document

THREE_DAYS = 3 * 24 * 3600


def three_versions():
    """A single price, then Jiangsu time of use from mid-afternoon, then repriced from a midnight."""
    tou = jiangsu_document()["versions"][0]
    repriced_tou = dict(tou, label="tou-0.70", effective_from="2025-06-05",
                        time_of_use=dict(tou["time_of_use"], flat_price_per_kwh="0.7000"))
    return load_tariff({"name": "mixed", "category": "commercial", "versions": [
        {"label": "single", "effective_from": "2025-06-01", "price_per_kwh": "0.5090"},
        dict(tou, label="tou-0.67", effective_from="2025-06-03T15:20"),
        repriced_tou]})


TARIFF = three_versions()
# Sessions start up to two days after one of these: before version changes (06-03 15:20, 06-05)
# and season changes (Aug→Sep, Nov→Dec, Feb→Mar).
ANCHORS = [datetime(2025, 6, 1, 12, tzinfo=SHANGHAI), datetime(2025, 6, 3, 12, tzinfo=SHANGHAI),
           datetime(2025, 8, 30, tzinfo=SHANGHAI), datetime(2025, 11, 29, tzinfo=SHANGHAI),
           datetime(2026, 2, 27, tzinfo=SHANGHAI)]
TWO_DAYS = 2 * 24 * 3600
zones = st.sampled_from([SHANGHAI, UTC, timezone(timedelta(hours=-7, minutes=-30))])


@st.composite
def sessions(draw, min_readings=2, max_readings=40):
    """Time-ordered readings with never-decreasing registers over up to three days."""
    start = draw(st.sampled_from(ANCHORS)) + timedelta(seconds=draw(st.integers(0, TWO_DAYS)))
    offsets = sorted(draw(st.lists(st.integers(0, THREE_DAYS), min_size=min_readings - 1, max_size=max_readings - 1)))
    steps = draw(st.lists(st.integers(0, 5000), min_size=len(offsets), max_size=len(offsets)))
    register, zone = draw(st.integers(0, 10**9)), draw(zones)
    readings = [(start.astimezone(zone), register)]
    for offset, step in zip(offsets, steps):
        register += step
        readings.append(((start + timedelta(seconds=offset)).astimezone(zone), register))
    return readings


def energy_by_key(lines):
    totals = Counter()
    for line in lines:
        totals[line.version, line.period] += line.energy_wh
    return totals


@given(sessions())
def test_the_lines_add_up_exactly_to_the_register_delta(readings):
    lines = split_by_tariff_period(readings, TARIFF)
    assert sum(line.energy_wh for line in lines) == readings[-1][1] - readings[0][1]
    assert all(line.energy_wh >= 0 for line in lines)


@given(sessions())
def test_every_line_is_its_energy_at_its_price_rounded_once(readings):
    lines = split_by_tariff_period(readings, TARIFF)
    for line in lines:
        assert line.amount == energy_amount(line.energy_wh, line.price_per_kwh)
        assert line.amount.as_tuple().exponent == -2
    assert bill_total(lines) == sum(line.amount for line in lines)


@given(sessions())
def test_lines_tile_the_session_and_each_is_the_period_in_effect(readings):
    lines = split_by_tariff_period(readings, TARIFF)
    assert lines[0].start == readings[0][0] and lines[-1].end == readings[-1][0]
    for earlier, later in zip(lines, lines[1:]):
        assert earlier.end == later.start
        assert (earlier.version, earlier.period) != (later.version, later.period)
    for line in lines:
        in_effect = period_in_effect(TARIFF, line.start)
        assert (in_effect.version.label, in_effect.period, in_effect.price_per_kwh) == \
            (line.version, line.period, line.price_per_kwh)


@given(sessions(min_readings=3), st.data())
def test_a_session_cut_at_one_of_its_readings_bills_the_same_energy_per_period(readings, data):
    cut = data.draw(st.integers(1, len(readings) - 2))
    halves = split_by_tariff_period(readings[:cut + 1], TARIFF) + split_by_tariff_period(readings[cut:], TARIFF)
    assert energy_by_key(halves) == energy_by_key(split_by_tariff_period(readings, TARIFF))


@given(sessions(max_readings=2))
def test_an_interval_split_at_boundaries_gives_each_side_its_time_share_within_one_wh(readings):
    (start, start_wh), (stop, stop_wh) = readings
    duration = Fraction((stop - start) // timedelta(microseconds=1))
    for line in split_by_tariff_period(readings, TARIFF):
        if duration:
            share = (stop_wh - start_wh) * Fraction((line.end - line.start) // timedelta(microseconds=1)) / duration
            assert abs(line.energy_wh - share) < 1


@st.composite
def constant_loads(draw):
    """A constant load in whole Wh per minute read at whole minutes, and one more reading on it.

    The extra reading is at the first tariff boundary inside the session, or at any minute.
    """
    start = draw(st.sampled_from(ANCHORS)) + timedelta(minutes=draw(st.integers(0, TWO_DAYS // 60)))
    minutes = [0] + sorted(set(draw(st.lists(st.integers(1, 3 * 24 * 60), min_size=1, max_size=20))))
    wh_per_minute, first_wh = draw(st.integers(0, 500)), draw(st.integers(0, 10**6))
    boundary = period_in_effect(TARIFF, start).until
    extra = boundary if draw(st.booleans()) and boundary < start + timedelta(minutes=minutes[-1]) \
        else start + timedelta(minutes=draw(st.integers(1, minutes[-1])))

    def on_the_line(at):
        return at, first_wh + wh_per_minute * ((at - start) // timedelta(minutes=1))

    return [on_the_line(start + timedelta(minutes=minute)) for minute in minutes], on_the_line(extra)


@given(constant_loads())
def test_with_a_constant_load_another_reading_on_the_line_changes_no_period_total(session):
    readings, extra = session
    with_extra = sorted({*readings, extra})
    assert energy_by_key(split_by_tariff_period(with_extra, TARIFF)) == \
        energy_by_key(split_by_tariff_period(readings, TARIFF))


near_22 = st.integers(-14 * 60, 14 * 60).map(lambda seconds: timedelta(seconds=seconds))


@given(day=st.integers(0, 360), before=near_22, after=near_22, start_wh=st.integers(0, 10**6),
       used=st.integers(0, 10**5))
def test_a_reading_at_the_boundary_with_the_interpolated_register_changes_nothing(day, before, after, start_wh, used):
    boundary = datetime(2025, 6, 5, 22, tzinfo=SHANGHAI) + timedelta(days=day)
    start = (boundary - abs(before) - timedelta(seconds=1), start_wh)
    stop = (boundary + abs(after) + timedelta(seconds=1), start_wh + used)
    at_boundary = (boundary, interpolated_register(start, stop, boundary))
    assert split_by_tariff_period([start, at_boundary, stop], TARIFF) == split_by_tariff_period([start, stop], TARIFF)


@given(sessions())
def test_the_valley_equivalent_never_exceeds_the_energy_bill(readings):
    lines = split_by_tariff_period(readings, TARIFF)
    assert valley_equivalent(lines, TARIFF) <= bill_total(lines)


@settings(max_examples=30)
@given(sessions(), st.data())
def test_a_register_that_decreases_anywhere_is_refused(readings, data):
    index = data.draw(st.integers(1, len(readings) - 1))
    at, register = readings[index]
    readings[index] = (at, readings[index - 1][1] - data.draw(st.integers(1, 1000)))
    with pytest.raises(RegisterWentBackwards):
        split_by_tariff_period(readings, TARIFF)
