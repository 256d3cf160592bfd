"""Each register rule with concrete numbers: what is billed, what is flagged, what is only noted."""
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from backend.meters.register_rules import (
    DLT645_ROLLOVER_WH,
    ROLLOVER_WH,
    Reading,
    StepKind,
    billable_energy,
    classify_step,
    energy_without_stop,
    max_plausible_wh,
    outlet_rated_power_w,
)

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
OUTLET_16_A = outlet_rated_power_w(Decimal("16"))


def reading(boot: str, seq: int, seconds: float, wh: int) -> Reading:
    return Reading(boot, seq, T0 + timedelta(seconds=seconds), wh)


def kinds(verdict):
    return [(a.index, a.kind) for a in verdict.anomalies]


def test_a_16_a_outlet_is_rated_3680_w():
    assert OUTLET_16_A == Decimal("3680")


def test_steady_use_bills_exactly_the_register_delta():
    readings = [reading("a", 1, 0, 152_011), reading("a", 2, 600, 152_400), reading("a", 3, 1200, 152_811)]
    verdict = billable_energy(readings, OUTLET_16_A)
    assert verdict.billable_wh == 800
    assert verdict.anomalies == ()
    assert not verdict.needs_review


def test_reboot_with_register_0_after_910_kwh_does_not_bill_910_kwh():
    readings = [reading("a", 7, 0, 910_000), reading("b", 0, 300, 0), reading("b", 1, 1800, 500)]
    verdict = billable_energy(readings, OUTLET_16_A)
    assert verdict.billable_wh == 500  # only what the new boot metered after its first reading
    assert kinds(verdict) == [(1, StepKind.METER_RESET)]
    assert verdict.needs_review
    assert "910000 to 0 Wh" in verdict.anomalies[0].reason


def test_stop_reading_of_0_after_a_reset_bills_nothing():
    verdict = billable_energy([reading("a", 7, 0, 910_000), reading("b", 3, 60, 0)], OUTLET_16_A)
    assert verdict.billable_wh == 0
    assert verdict.needs_review


def test_reboot_that_keeps_its_register_bills_the_delta_and_is_only_noted():
    readings = [reading("a", 41, 0, 5_000), reading("b", 0, 600, 5_300)]
    verdict = billable_energy(readings, OUTLET_16_A)
    assert verdict.billable_wh == 300
    assert kinds(verdict) == [(1, StepKind.REBOOTED)]
    assert not verdict.needs_review


def test_reboot_whose_register_leaps_is_an_impossible_jump():
    readings = [reading("a", 41, 0, 5_000), reading("b", 0, 60, 9_000_000)]
    verdict = billable_energy(readings, OUTLET_16_A)
    assert verdict.billable_wh == 0
    assert kinds(verdict) == [(1, StepKind.IMPOSSIBLE_JUMP)]
    assert "restarted" in verdict.anomalies[0].reason


def test_rollover_from_99_999_950_to_30_bills_80_wh():
    verdict = billable_energy([reading("a", 1, 0, 99_999_950), reading("a", 2, 120, 30)], OUTLET_16_A)
    assert verdict.billable_wh == 80
    assert kinds(verdict) == [(1, StepKind.ROLLOVER)]
    assert not verdict.needs_review


def test_the_rollover_point_is_one_past_eight_nines_of_wh():
    assert ROLLOVER_WH == 100_000_000
    assert DLT645_ROLLOVER_WH == 1_000_000_000  # 999 999.99 kWh is 999 999 990 Wh, in 10 Wh steps


def test_dlt645_meters_roll_over_at_their_own_point():
    readings = [reading("a", 1, 0, 999_999_950), reading("a", 2, 120, 30)]
    assert billable_energy(readings, OUTLET_16_A, rollover_wh=DLT645_ROLLOVER_WH).billable_wh == 80
    # the eight-digit Wh register cannot hold 999 999 950, so for it this is a register going back
    assert kinds(billable_energy(readings, OUTLET_16_A)) == [(1, StepKind.WENT_BACKWARDS)]


def test_a_wrap_too_large_for_the_elapsed_time_is_no_rollover():
    step = classify_step(reading("a", 1, 0, 99_999_950), reading("a", 2, 120, 50_000), OUTLET_16_A)
    assert step.kind is StepKind.WENT_BACKWARDS
    assert step.energy_wh == 0


def test_a_drop_from_far_below_the_top_is_no_rollover():
    step = classify_step(reading("a", 1, 0, 60_000_000), reading("a", 2, 86_400, 30), OUTLET_16_A)
    assert step.kind is StepKind.WENT_BACKWARDS


def test_register_that_went_backwards_bills_nothing_for_the_step_and_is_flagged():
    verdict = billable_energy([reading("a", 1, 0, 1_000), reading("a", 2, 60, 990)], OUTLET_16_A)
    assert verdict.billable_wh == 0
    assert kinds(verdict) == [(1, StepKind.WENT_BACKWARDS)]
    assert verdict.needs_review


def test_a_dip_and_recovery_never_bills_a_wh_twice():
    readings = [reading("a", 1, 0, 1_000), reading("a", 2, 60, 990), reading("a", 3, 120, 1_010)]
    assert billable_energy(readings, OUTLET_16_A).billable_wh == 10  # not 20: 990..1000 was billed already


def test_jump_of_50_kwh_in_1_minute_on_a_16_a_outlet_is_flagged_and_not_billed():
    verdict = billable_energy([reading("a", 1, 0, 1_000), reading("a", 2, 60, 51_000)], OUTLET_16_A)
    assert verdict.billable_wh == 0
    assert kinds(verdict) == [(1, StepKind.IMPOSSIBLE_JUMP)]
    assert verdict.needs_review
    assert "at most 74 Wh" in verdict.anomalies[0].reason  # 3680 W × 1.2 × 60 s = 73.6 Wh, + 1 Wh step


def test_billing_resumes_from_the_reading_after_an_impossible_jump():
    readings = [reading("a", 1, 0, 1_000), reading("a", 2, 60, 51_000), reading("a", 3, 120, 51_040)]
    verdict = billable_energy(readings, OUTLET_16_A)
    assert verdict.billable_wh == 40
    assert kinds(verdict) == [(1, StepKind.IMPOSSIBLE_JUMP)]


def test_a_single_spike_is_never_billed():
    readings = [reading("a", 1, 0, 1_000), reading("a", 2, 60, 51_000), reading("a", 3, 120, 1_040),
                reading("a", 4, 180, 1_080)]
    verdict = billable_energy(readings, OUTLET_16_A)
    # the step into the spike and the step out of it are both lost; only 1040 → 1080 is billed
    assert verdict.billable_wh == 40
    assert kinds(verdict) == [(1, StepKind.IMPOSSIBLE_JUMP), (2, StepKind.WENT_BACKWARDS)]


def test_a_full_load_second_may_tick_two_wh():
    # 3680 W for 1 s is 1.02 Wh; with the register's fraction at .99 the whole-Wh register shows 2
    step = classify_step(reading("a", 1, 0, 500), reading("a", 2, 1, 502), OUTLET_16_A)
    assert step.kind is StepKind.NORMAL
    assert step.energy_wh == 2


def test_small_ticks_cannot_add_up_to_more_than_the_outlet_delivers():
    readings = [reading("a", s, s, 2 * s) for s in range(0, 11)]  # 2 Wh every second: 7200 W
    verdict = billable_energy(readings, OUTLET_16_A)
    assert verdict.billable_wh <= max_plausible_wh(OUTLET_16_A, timedelta(seconds=10))
    assert StepKind.IMPOSSIBLE_JUMP in {a.kind for a in verdict.anomalies}
    assert "the session would reach" in verdict.anomalies[0].reason


def test_clock_that_went_backwards_bills_nothing_for_the_step():
    readings = [reading("a", 1, 0, 1_000), reading("a", 2, -3600, 1_030), reading("a", 3, -3000, 1_050)]
    verdict = billable_energy(readings, OUTLET_16_A)
    assert verdict.billable_wh == 20
    assert kinds(verdict) == [(1, StepKind.CLOCK_WENT_BACKWARDS)]
    assert verdict.needs_review


def test_a_late_reading_is_ignored_without_losing_energy():
    readings = [reading("a", 1, 0, 1_000), reading("a", 3, 120, 1_020), reading("a", 2, 60, 1_010),
                reading("a", 4, 180, 1_030)]
    verdict = billable_energy(readings, OUTLET_16_A)
    assert verdict.billable_wh == 30
    assert kinds(verdict) == [(2, StepKind.OUT_OF_ORDER)]
    assert not verdict.needs_review


def test_a_late_reading_from_an_earlier_boot_is_ignored():
    readings = [reading("a", 5, 0, 1_000), reading("b", 0, 300, 0), reading("a", 6, 200, 1_020),
                reading("b", 1, 600, 40)]
    verdict = billable_energy(readings, OUTLET_16_A)
    assert verdict.billable_wh == 40
    assert kinds(verdict) == [(1, StepKind.METER_RESET), (2, StepKind.OUT_OF_ORDER)]


def test_a_reading_delivered_twice_is_silently_ignored():
    twice = reading("a", 2, 60, 1_010)
    verdict = billable_energy([reading("a", 1, 0, 1_000), twice, twice, reading("a", 3, 120, 1_020)], OUTLET_16_A)
    assert verdict.billable_wh == 20
    assert verdict.anomalies == ()


def test_the_same_seq_with_different_values_is_ignored_and_noted():
    step = classify_step(reading("a", 2, 60, 1_010), reading("a", 2, 60, 1_500), OUTLET_16_A)
    assert step.kind is StepKind.OUT_OF_ORDER


def test_missing_stop_bills_up_to_the_last_reading_received_and_is_flagged():
    verdict = energy_without_stop([reading("a", 1, 0, 1_000), reading("a", 2, 900, 1_600)], OUTLET_16_A)
    assert verdict.billable_wh == 600
    assert kinds(verdict) == [(1, StepKind.MISSING_STOP)]
    assert verdict.needs_review
    assert "1600 Wh" in verdict.anomalies[0].reason


def test_a_lone_start_reading_bills_nothing():
    assert billable_energy([reading("a", 1, 0, 1_000)], OUTLET_16_A).billable_wh == 0


def test_a_session_without_readings_is_refused():
    with pytest.raises(ValueError):
        billable_energy([], OUTLET_16_A)


def test_plausible_maximum_is_exact_for_a_tolerance_written_as_a_float():
    # the float 1.2 is a hair under 6/5; read naively it would give 4319 + 1
    assert max_plausible_wh(3600, timedelta(hours=1), 1.2) == 4321
    assert max_plausible_wh(3600, timedelta(hours=1), Decimal("1.2")) == 4321
    assert max_plausible_wh(3680, timedelta(0)) == 1


@pytest.mark.parametrize("power, tolerance", [(0, 1), (-5, 1), (3680, Decimal("0.9"))])
def test_nonsense_limits_are_refused(power, tolerance):
    with pytest.raises(ValueError):
        max_plausible_wh(power, timedelta(minutes=1), tolerance)


def test_a_reading_needs_an_aware_time_and_a_non_negative_register():
    with pytest.raises(ValueError):
        Reading("a", 1, datetime(2026, 5, 1, 8, 0), 0)
    with pytest.raises(ValueError):
        Reading("a", 1, T0, -1)


# The table in docs/register-rules.md, row by row.
@pytest.mark.parametrize("previous, current, kind, energy", [
    (reading("a", 1, 0, 1_000), reading("a", 2, 600, 1_300), StepKind.NORMAL, 300),
    (reading("a", 1, 0, 910_000), reading("b", 0, 300, 0), StepKind.METER_RESET, 0),
    (reading("a", 1, 0, 5_000), reading("b", 0, 600, 5_300), StepKind.REBOOTED, 300),
    (reading("a", 1, 0, 99_999_950), reading("a", 2, 120, 30), StepKind.ROLLOVER, 80),
    (reading("a", 1, 0, 1_000), reading("a", 2, 60, 990), StepKind.WENT_BACKWARDS, 0),
    (reading("a", 1, 0, 1_000), reading("a", 2, 60, 51_000), StepKind.IMPOSSIBLE_JUMP, 0),
    (reading("a", 1, 0, 1_000), reading("a", 2, -3600, 1_030), StepKind.CLOCK_WENT_BACKWARDS, 0),
    (reading("a", 3, 120, 1_020), reading("a", 2, 60, 1_010), StepKind.OUT_OF_ORDER, 0),
    (reading("a", 2, 60, 1_010), reading("a", 2, 60, 1_010), StepKind.DUPLICATE, 0),
])
def test_documented_examples(previous, current, kind, energy):
    step = classify_step(previous, current, OUTLET_16_A)
    assert (step.kind, step.energy_wh) == (kind, energy)
