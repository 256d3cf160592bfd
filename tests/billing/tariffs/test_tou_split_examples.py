from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from billing.pricing import energy_amount
from billing.settlement import RegisterWentBackwards
from billing.tariffs import ALL_DAY, InvalidReadings, NoTariffInEffect, bill_total, load_tariff, split_by_tariff_period
from billing.tariffs.clock import SHANGHAI

PEAK, FLAT, VALLEY = Decimal("1.072"), Decimal("0.67"), Decimal("0.2345")


def local(year, month, day, hour, minute=0):
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def quarter_hours(start, stop, wh_per_quarter, tariff):
    return split_by_tariff_period(every_quarter_hour(start, stop, wh_per_quarter), tariff)


def every_quarter_hour(start, stop, wh_per_quarter, register_wh=100_000):
    """Readings of a constant load at each quarter hour from `start` to `stop`."""
    quarters = int((stop - start) / timedelta(minutes=15))
    return [(start + timedelta(minutes=15 * i), register_wh + wh_per_quarter * i) for i in range(quarters + 1)]


def summary(lines):
    return [(line.period, line.energy_wh, line.start.strftime("%m-%d %H:%M"), line.end.strftime("%m-%d %H:%M"))
            for line in lines]


def test_july_evening_is_peak_until_22_then_flat(jiangsu):
    lines = quarter_hours(local(2025, 7, 15, 21, 30), local(2025, 7, 15, 23, 30), 1234, jiangsu)
    assert summary(lines) == [("peak", 2468, "07-15 21:30", "07-15 22:00"),
                              ("flat", 7404, "07-15 22:00", "07-15 23:30")]
    assert [line.price_per_kwh for line in lines] == [PEAK, FLAT]
    assert [line.amount for line in lines] == [Decimal("2.65"), Decimal("4.96")]  # 2.645696 and 4.96068
    assert bill_total(lines) == Decimal("7.61")


def test_april_evening_is_peak_until_22_then_flat(jiangsu):
    lines = quarter_hours(local(2026, 4, 15, 21, 30), local(2026, 4, 15, 23, 30), 1234, jiangsu)
    assert summary(lines) == [("peak", 2468, "04-15 21:30", "04-15 22:00"),
                              ("flat", 7404, "04-15 22:00", "04-15 23:30")]
    assert [line.amount for line in lines] == [energy_amount(2468, PEAK), energy_amount(7404, FLAT)]


def test_spring_night_stays_flat_across_midnight_until_two(jiangsu):
    lines = quarter_hours(local(2026, 4, 15, 21, 30), local(2026, 4, 16, 3), 250, jiangsu)
    assert summary(lines) == [("peak", 500, "04-15 21:30", "04-15 22:00"),
                              ("flat", 4000, "04-15 22:00", "04-16 02:00"),
                              ("valley", 1000, "04-16 02:00", "04-16 03:00")]
    assert [line.amount for line in lines] == [Decimal("0.54"), Decimal("2.68"), Decimal("0.23")]  # 0.536, 2.68, 0.2345


def test_summer_night_turns_valley_at_midnight(jiangsu):
    lines = quarter_hours(local(2025, 7, 15, 23), local(2025, 7, 16, 1), 100, jiangsu)
    assert summary(lines) == [("flat", 400, "07-15 23:00", "07-16 00:00"),
                              ("valley", 400, "07-16 00:00", "07-16 01:00")]


def test_the_season_is_that_of_the_calendar_day(jiangsu):
    """22:00–02:00 is flat in May, but 1 June is a summer day: valley from midnight."""
    lines = quarter_hours(local(2025, 5, 31, 23), local(2025, 6, 1, 1), 100, load_tariff(_with_a_may_version(jiangsu)))
    assert summary(lines) == [("flat", 400, "05-31 23:00", "06-01 00:00"),
                              ("valley", 400, "06-01 00:00", "06-01 01:00")]


def _with_a_may_version(tariff):
    document = tariff.model_dump(mode="json")
    document["versions"][0]["effective_from"] = "2025-05-01"
    return document


def test_a_session_spanning_a_tariff_version_change_is_split_at_it(repriced):
    lines = quarter_hours(local(2025, 6, 30, 22), local(2025, 7, 1, 2), 300, repriced)
    assert [(line.version, line.period, line.energy_wh, line.price_per_kwh) for line in lines] == [
        ("2025-06-01", "flat", 2400, FLAT), ("2025-07-01", "valley", 2400, Decimal("0.7000") * Decimal("0.35"))]
    assert lines[0].end == lines[1].start == local(2025, 7, 1, 0)


def test_a_version_change_splits_even_a_price_that_stays_all_day():
    tariff = load_tariff({"name": "farm", "category": "agricultural", "versions": [
        {"label": "old", "effective_from": "2025-01-01", "price_per_kwh": "0.5090"},
        {"label": "new", "effective_from": "2025-07-01", "price_per_kwh": "0.5200"}]})
    lines = quarter_hours(local(2025, 6, 30, 23), local(2025, 7, 1, 1), 500, tariff)
    assert [(line.version, line.period, line.energy_wh, line.amount) for line in lines] == [
        ("old", ALL_DAY, 2000, Decimal("1.02")), ("new", ALL_DAY, 2000, Decimal("1.04"))]


def test_a_boundary_between_readings_floors_the_earlier_share_and_gives_the_rest_to_the_later(jiangsu):
    lines = split_by_tariff_period([(local(2025, 7, 15, 21, 50), 0), (local(2025, 7, 15, 22, 5), 1000)], jiangsu)
    assert summary(lines) == [("peak", 666, "07-15 21:50", "07-15 22:00"),
                              ("flat", 334, "07-15 22:00", "07-15 22:05")]


def test_sparse_readings_split_at_every_boundary_by_the_floored_interpolated_register(jiangsu):
    """A meter back from offline: one interval 10:30–14:30 crossing four July boundaries."""
    lines = split_by_tariff_period([(local(2025, 7, 15, 10, 30), 0), (local(2025, 7, 15, 14, 30), 1001)], jiangsu)
    # registers at 11:00, 13:00, 14:00 are floor(1001 × 30/240) = 125, floor(1001 × 150/240) = 625, 875
    assert summary(lines) == [("flat", 125, "07-15 10:30", "07-15 11:00"),
                              ("valley", 500, "07-15 11:00", "07-15 13:00"),
                              ("flat", 250, "07-15 13:00", "07-15 14:00"),
                              ("peak", 126, "07-15 14:00", "07-15 14:30")]


def test_a_reading_at_the_boundary_takes_the_place_of_interpolation(jiangsu):
    lines = split_by_tariff_period([(local(2025, 7, 15, 21, 50), 0), (local(2025, 7, 15, 22), 700),
                                    (local(2025, 7, 15, 22, 5), 1000)], jiangsu)
    assert [line.energy_wh for line in lines] == [700, 300]


def test_a_start_reading_repeated_at_the_same_instant_adds_its_energy_there(jiangsu):
    at = local(2025, 7, 15, 22)
    lines = split_by_tariff_period([(at, 0), (at, 5), (at + timedelta(minutes=15), 105)], jiangsu)
    assert summary(lines) == [("flat", 105, "07-15 22:00", "07-15 22:15")]


def test_periods_are_evaluated_in_shanghai_whatever_zone_the_readings_use(jiangsu):
    in_utc = [(local(2025, 7, 15, 21, 30).astimezone(UTC), 0), (local(2025, 7, 15, 22, 30).astimezone(UTC), 800)]
    lines = split_by_tariff_period(in_utc, jiangsu)
    assert summary(lines) == [("peak", 400, "07-15 21:30", "07-15 22:00"),
                              ("flat", 400, "07-15 22:00", "07-15 22:30")]
    assert all(line.start.tzinfo is SHANGHAI for line in lines)


def test_each_line_is_rounded_once_and_the_total_is_not_rounded_again(jiangsu):
    lines = split_by_tariff_period([(local(2025, 7, 15, 21, 45), 0), (local(2025, 7, 15, 22), 7),
                                    (local(2025, 7, 15, 22, 15), 15)], jiangsu)
    assert [line.amount for line in lines] == [Decimal("0.01"), Decimal("0.01")]  # 0.007504 and 0.00536
    assert bill_total(lines) == Decimal("0.02")  # the unrounded sum, 0.012864, would bill 0.01


def test_a_register_that_goes_backwards_is_refused(jiangsu):
    with pytest.raises(RegisterWentBackwards, match="register went from 500 Wh"):
        split_by_tariff_period([(local(2025, 7, 15, 21), 500), (local(2025, 7, 15, 21, 15), 20)], jiangsu)


@pytest.mark.parametrize("readings, message", [
    ([(local(2025, 7, 15, 21), 0)], "at least its start and its stop"),
    ([(datetime(2025, 7, 15, 21), 0), (datetime(2025, 7, 15, 22), 5)], "has no time zone"),
    ([(local(2025, 7, 15, 22), 0), (local(2025, 7, 15, 21), 5)], "comes after"),
    ([(local(2025, 7, 15, 21), 0), (local(2025, 7, 15, 22), 5.5)], "not a whole number of Wh"),
])
def test_readings_that_cannot_be_priced_are_refused(jiangsu, readings, message):
    with pytest.raises(InvalidReadings, match=message):
        split_by_tariff_period(readings, jiangsu)


def test_a_session_before_the_tariff_takes_effect_is_refused(jiangsu):
    with pytest.raises(NoTariffInEffect, match="takes effect at 2025-06-01 00:00"):
        split_by_tariff_period([(local(2025, 5, 31, 23), 0), (local(2025, 6, 1, 1), 10)], jiangsu)
