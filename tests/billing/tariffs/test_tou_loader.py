from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from billing.tariffs import (
    ALL_DAY,
    Category,
    InvalidTariff,
    load_seed_tariff,
    load_tariff,
    load_tariff_json,
    seed_tariff_names,
)
from billing.tariffs.clock import SHANGHAI

SUMMER_WINTER_BY_HOUR = ["valley"] * 6 + ["flat"] * 5 + ["valley"] * 2 + ["flat"] + ["peak"] * 8 + ["flat"] * 2
SPRING_AUTUMN_BY_HOUR = (["flat"] * 2 + ["valley"] * 4 + ["flat"] * 4 + ["valley"] * 4 + ["flat"] + ["peak"] * 7
                         + ["flat"] * 2)


def periods_by_hour(tariff, day):
    midnight = datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)
    return [tariff.versions[0].period_at(midnight + timedelta(hours=hour, minutes=30))[0] for hour in range(24)]


def test_seed_tariffs_are_package_data():
    assert seed_tariff_names() == ["agricultural_production_flat", "jiangsu_commercial_tou_2025"]
    for name in seed_tariff_names():
        assert load_seed_tariff(name).name == name


@pytest.mark.parametrize("month", [6, 7, 8, 12, 1, 2])
def test_jiangsu_summer_and_winter_days_follow_document_426(jiangsu, month):
    assert periods_by_hour(jiangsu, datetime(2026, month, 10)) == SUMMER_WINTER_BY_HOUR


@pytest.mark.parametrize("month", [3, 4, 5, 9, 10, 11])
def test_jiangsu_spring_and_autumn_days_follow_document_426(jiangsu, month):
    assert periods_by_hour(jiangsu, datetime(2026, month, 10)) == SPRING_AUTUMN_BY_HOUR


def test_jiangsu_peak_and_valley_are_ratios_of_the_demonstration_flat_price(jiangsu):
    schedule = jiangsu.versions[0].time_of_use
    assert jiangsu.category is Category.commercial
    assert jiangsu.versions[0].effective_from == datetime(2025, 6, 1, tzinfo=SHANGHAI)
    prices = [schedule.price_of(period) for period in ("peak", "flat", "valley")]
    assert prices == [Decimal("1.072"), Decimal("0.67"), Decimal("0.2345")]
    assert "demonstration" in jiangsu.note.lower()


def test_agricultural_production_is_one_demonstration_price_all_day():
    tariff = load_seed_tariff("agricultural_production_flat")
    assert tariff.category is Category.agricultural
    assert tariff.versions[0].period_at(datetime(2025, 7, 1, 15, tzinfo=SHANGHAI)) == (ALL_DAY, Decimal("0.5090"), None)
    assert "demonstration" in tariff.note.lower()


def test_an_unknown_seed_tariff_names_the_known_ones():
    with pytest.raises(LookupError, match="jiangsu_commercial_tou_2025"):
        load_seed_tariff("nowhere")


@pytest.mark.parametrize("effective_from, expected", [
    ("2025-06-01", datetime(2025, 6, 1, tzinfo=SHANGHAI)),
    ("2025-06-01T08:30", datetime(2025, 6, 1, 8, 30, tzinfo=SHANGHAI)),
    ("2025-06-01T00:00:00+00:00", datetime(2025, 6, 1, 8, tzinfo=SHANGHAI)),
    (datetime(2025, 6, 1, tzinfo=UTC), datetime(2025, 6, 1, 8, tzinfo=SHANGHAI)),
])
def test_effective_dates_are_local_to_shanghai_unless_they_say_otherwise(effective_from, expected):
    tariff = load_tariff({"name": "t", "category": "residential",
                          "versions": [{"label": "v", "effective_from": effective_from, "price_per_kwh": "0.5"}]})
    assert tariff.versions[0].effective_from == expected


def spans(document, season=0):
    return document["versions"][0]["time_of_use"]["seasons"][season]["periods"]


def schedule(document):
    return document["versions"][0]["time_of_use"]


def remove_midday_valley(document):
    spans(document).pop(2)


def stretch_morning_flat_into_valley(document):
    spans(document)[1]["end"] = "12:00"


def misspell_a_period(document):
    spans(document)[4]["period"] = "peek"


def zero_valley_ratio(document):
    schedule(document)["ratios"]["valley"] = Decimal("0")


def swap_peak_and_valley_ratios(document):
    schedule(document)["ratios"] = {"peak": Decimal("0.35"), "valley": Decimal("1.6")}


def ratio_for_an_unknown_period(document):
    schedule(document)["ratios"]["super_peak"] = Decimal("2")


def zero_flat_price(document):
    schedule(document)["flat_price_per_kwh"] = "0"


def negative_flat_price(document):
    schedule(document)["flat_price_per_kwh"] = "-0.67"


def unsorted_versions(document):
    earlier = dict(document["versions"][0], label="2025-01-01", effective_from="2025-01-01")
    document["versions"].append(earlier)


def duplicate_version_label(document):
    document["versions"].append(dict(document["versions"][0], effective_from="2026-01-01"))


def both_flat_and_time_of_use(document):
    document["versions"][0]["price_per_kwh"] = "0.5"


def neither_flat_nor_time_of_use(document):
    del document["versions"][0]["time_of_use"]


def lose_december(document):
    schedule(document)["seasons"][0]["months"].remove(12)


def put_march_in_two_seasons(document):
    schedule(document)["seasons"][0]["months"].append(3)


def hour_25(document):
    spans(document)[5]["end"] = "25:00"


def one_digit_hour(document):
    spans(document)[0]["end"] = "6:00"


def empty_period(document):
    spans(document).append({"period": "flat", "start": "06:00", "end": "06:00"})


def misspelt_field(document):
    schedule(document)["flat_price_kwh"] = schedule(document).pop("flat_price_per_kwh")


def zero_service_fee(document):
    document["versions"][0]["service_fee"] = {"per_kwh": "0"}


def empty_service_fee(document):
    document["versions"][0]["service_fee"] = {}


def unknown_category(document):
    document["category"] = "industrial"


@pytest.mark.parametrize("break_it, message", [
    (remove_midday_valley, r"seasons\.0: season 'summer_winter': gap: 11:00–13:00 is in no period"),
    (stretch_morning_flat_into_valley, r"overlap: 11:00–12:00 is in valley and in an earlier period"),
    (misspell_a_period, r"unknown period 'peek' at 14:00–22:00"),
    (zero_valley_ratio, r"ratios\.valley: Input should be greater than 0"),
    (swap_peak_and_valley_ratios, r"ratio of peak \(0\.35\) must be above that of flat \(1\)"),
    (ratio_for_an_unknown_period, r"unknown period 'super_peak' in ratios"),
    (zero_flat_price, r"flat_price_per_kwh: Input should be greater than 0"),
    (negative_flat_price, r"flat_price_per_kwh: Input should be greater than 0"),
    (unsorted_versions, r"version '2025-01-01' \(2025-01-01 00:00\) must take effect after '2025-06-01'"),
    (duplicate_version_label, r"version label '2025-06-01' is used twice"),
    (both_flat_and_time_of_use, r"needs exactly one of price_per_kwh and time_of_use"),
    (neither_flat_nor_time_of_use, r"needs exactly one of price_per_kwh and time_of_use"),
    (lose_december, r"months \[12\] are in no season"),
    (put_march_in_two_seasons, r"months \[3\] are in more than one season"),
    (hour_25, r"'25:00' is after 24:00"),
    (one_digit_hour, r"expected a time of day as HH:MM, got '6:00'"),
    (empty_period, r"flat 06:00–06:00 is empty"),
    (misspelt_field, r"flat_price_kwh: Extra inputs are not permitted"),
    (zero_service_fee, r"service_fee\.per_kwh: Input should be greater than 0"),
    (empty_service_fee, r"a service fee needs per_kwh, per_session or both"),
    (unknown_category, r"category: Input should be 'agricultural', 'commercial' or 'residential'"),
])
def test_a_bad_tariff_is_refused_with_the_reason(seed_document, break_it, message):
    break_it(seed_document)
    with pytest.raises(InvalidTariff, match=message):
        load_tariff(seed_document)


def test_a_period_past_midnight_covers_both_ends_of_the_day(seed_document):
    spring = spans(seed_document, season=1)
    assert spring[-1] == {"period": "flat", "start": "22:00", "end": "02:00"}
    spring[-1]["end"] = "01:00"
    with pytest.raises(InvalidTariff, match="gap: 01:00–02:00 is in no period"):
        load_tariff(seed_document)


def test_every_problem_is_reported_at_once(seed_document):
    remove_midday_valley(seed_document)
    zero_flat_price(seed_document)
    with pytest.raises(InvalidTariff) as refused:
        load_tariff(seed_document)
    assert "gap: 11:00–13:00" in str(refused.value) and "flat_price_per_kwh" in str(refused.value)


def test_json_prices_are_read_as_exact_decimals():
    tariff = load_tariff_json('{"name": "t", "category": "agricultural", "versions": '
                              '[{"label": "v", "effective_from": "2025-01-01", "price_per_kwh": 0.1}]}')
    assert tariff.versions[0].price_per_kwh == Decimal("0.1")


def test_text_that_is_not_json_is_an_invalid_tariff():
    with pytest.raises(InvalidTariff, match="not JSON"):
        load_tariff_json("{name: oops}")


def test_a_tariff_dumped_as_json_loads_back_unchanged(jiangsu, repriced):
    for tariff in (jiangsu, repriced, load_seed_tariff("agricultural_production_flat")):
        assert load_tariff_json(tariff.model_dump_json()) == tariff
