"""Power-quality rules with concrete numbers: GB/T 12325 limits, overload, capacity, loss of supply."""
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from backend.alarms.rules import (
    GB_T_12325,
    IDLE,
    AlarmKind,
    Change,
    OutletMeasure,
    Persistence,
    conditions_present,
    describe,
    force_close,
    force_open,
    step,
    time_within,
)

T0 = datetime(2026, 4, 1, 6, 0, tzinfo=UTC)
RATED = {1: Decimal("16"), 2: Decimal("16")}


def outlet(channel=1, volts=220.0, amps=0.0, watts=0.0) -> OutletMeasure:
    return OutletMeasure(channel, volts, amps, watts)


def kinds(outlets, rated=RATED, capacity_kw=Decimal("10")) -> set[tuple[AlarmKind, int | None]]:
    return {c.key for c in conditions_present(outlets, rated, capacity_kw)}


def test_limits_of_220_v_single_phase_are_235_4_and_198():
    assert GB_T_12325.upper_v == Decimal("235.4")
    assert GB_T_12325.lower_v == Decimal("198")


@pytest.mark.parametrize("volts", [198.0, 198, 220.0, 235.4, Decimal("235.40")])
def test_voltage_on_the_limits_is_in_range(volts):
    assert kinds([outlet(volts=volts)]) == set()


def test_voltage_just_above_235_4_is_over_voltage():
    assert kinds([outlet(volts=235.5)]) == {(AlarmKind.over_voltage, 1)}


def test_voltage_just_below_198_is_under_voltage():
    assert kinds([outlet(volts=197.9)]) == {(AlarmKind.under_voltage, 1)}


def test_voltage_is_judged_per_outlet():
    assert kinds([outlet(1, volts=240.0), outlet(2, volts=230.0)]) == {(AlarmKind.over_voltage, 1)}


def test_16_a_outlet_at_18_a_is_overloaded_and_at_16_a_is_not():
    assert kinds([outlet(amps=18.0, watts=3960)]) == {(AlarmKind.outlet_overload, 1)}
    assert kinds([outlet(amps=16.0, watts=3520)]) == set()


def test_overload_records_current_and_rated_current():
    (found,) = conditions_present([outlet(amps=18.0, watts=3960)], RATED, Decimal("10"))
    assert (found.value, found.limit) == (Decimal("18.0"), Decimal("16"))


def test_10_kw_point_with_outlets_summing_11_kw_is_over_capacity():
    found = conditions_present([outlet(1, amps=12.5, watts=5500), outlet(2, amps=12.5, watts=5500)],
                               RATED, Decimal("10"))
    (over,) = found
    assert over.key == (AlarmKind.point_over_capacity, None)
    assert (over.value, over.limit) == (Decimal("11"), Decimal("10"))


def test_exactly_the_contracted_capacity_is_allowed():
    assert kinds([outlet(1, amps=11, watts=5000), outlet(2, amps=11, watts=5000)]) == set()


def test_zero_volts_on_every_outlet_is_loss_of_supply_not_under_voltage():
    assert kinds([outlet(1, volts=0.0), outlet(2, volts=1.2)]) == {(AlarmKind.supply_lost, None)}


def test_zero_volts_on_one_outlet_only_is_that_outlets_under_voltage():
    assert kinds([outlet(1, volts=0.0), outlet(2, volts=220.0)]) == {(AlarmKind.under_voltage, 1)}


def test_a_channel_without_rated_current_is_not_checked_for_overload():
    assert kinds([outlet(7, amps=50)], rated={}) == set()


def test_no_outlets_no_conditions():
    assert kinds([]) == set()


def over(value="240"):
    (found,) = conditions_present([outlet(volts=float(value))], RATED, Decimal("10"))
    return found


def feed(values, policy=Persistence(3, 3)):
    """Feed voltages one second apart; return each change with the second it is dated from."""
    watch, changes = IDLE, []
    for i, value in enumerate(values):
        found = conditions_present([outlet(volts=value)], RATED, Decimal("10"))
        condition = next(iter(found), None)
        kind = condition.kind if condition else AlarmKind.over_voltage
        watch, transition = step(watch, kind, condition, T0 + timedelta(seconds=i), policy)
        if transition:
            changes.append((transition.change, int((transition.at - T0).total_seconds()), transition.worst))
    return changes


def test_two_high_samples_do_not_open_an_alarm():
    assert feed([220, 240, 241, 220, 220, 220]) == []


def test_three_high_samples_open_one_alarm_dated_from_the_first():
    assert feed([220, 240, 245, 241, 220]) == [(Change.opened, 1, Decimal("245"))]


def test_alarm_closes_after_three_normal_samples_dated_from_the_first():
    changes = feed([240, 240, 240, 220, 240, 220, 220, 220])
    assert changes == [(Change.opened, 0, Decimal("240")), (Change.closed, 5, Decimal("240"))]


def test_worst_value_keeps_growing_while_open():
    changes = feed([240, 240, 240, 250, 238, 220, 220, 220])
    assert changes[-1] == (Change.closed, 5, Decimal("250"))


def test_under_voltage_worst_is_the_lowest():
    changes = feed([190, 185, 195, 220, 220, 220])
    assert changes == [(Change.opened, 0, Decimal("185")), (Change.closed, 3, Decimal("185"))]


def test_meter_reported_loss_opens_at_once_and_closes_at_once():
    watch, opened = force_open(IDLE, T0)
    assert opened.change == Change.opened and opened.at == T0 and watch.is_open
    again, nothing = force_open(watch, T0 + timedelta(minutes=1))
    assert nothing is None and again.is_open
    idle, closed = force_close(again, T0 + timedelta(hours=2))
    assert closed.change == Change.closed and closed.at == T0 + timedelta(hours=2) and idle == IDLE
    assert force_close(IDLE, T0) == (IDLE, None)


def test_meter_reported_loss_is_dated_from_samples_already_out_of_range():
    lost = next(iter(conditions_present([outlet(volts=0)], RATED, Decimal("10"))))
    pending, _ = step(IDLE, AlarmKind.supply_lost, lost, T0)
    _, opened = force_open(pending, T0 + timedelta(seconds=5))
    assert opened.at == T0


def test_outage_time_is_clipped_to_the_period():
    start, end = T0, T0 + timedelta(days=1)
    spans = [(T0 - timedelta(hours=2), T0 + timedelta(hours=1)),  # 1 h inside
             (T0 + timedelta(hours=5), T0 + timedelta(hours=5, minutes=30)),  # 0.5 h
             (T0 + timedelta(hours=23), None)]  # open: until end
    assert time_within(spans, start, end, now=T0 + timedelta(days=3)) == timedelta(hours=2, minutes=30)


def test_open_outage_counts_until_now_inside_the_period():
    spans = [(T0 + timedelta(hours=1), None)]
    assert time_within(spans, T0, T0 + timedelta(days=1), now=T0 + timedelta(hours=4)) == timedelta(hours=3)


def test_overlapping_outages_count_once():
    spans = [(T0, T0 + timedelta(hours=2)), (T0 + timedelta(hours=1), T0 + timedelta(hours=3))]
    assert time_within(spans, T0, T0 + timedelta(days=1), now=T0) == timedelta(hours=3)


def test_messages_name_the_limit_and_the_standard():
    assert describe(AlarmKind.over_voltage, 2, GB_T_12325.upper_v) == (
        "Outlet 2: over-voltage 过电压, above 235.4 V (220 V +7 %, GB/T 12325)")
    assert describe(AlarmKind.under_voltage, 1, GB_T_12325.lower_v) == (
        "Outlet 1: under-voltage 欠电压, below 198 V (220 V −10 %, GB/T 12325)")
    assert "10 kW" in describe(AlarmKind.point_over_capacity, None, Decimal("10.00"))


def test_persistence_counts_must_be_positive():
    with pytest.raises(ValueError):
        Persistence(0, 3)
