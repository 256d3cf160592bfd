from datetime import UTC, datetime
from decimal import Decimal

from backend.pages import display
from backend.pages.display import badge, kwh, power, price, when, yuan
from backend.pages.navigation import safe_next


def test_money_reads_as_yuan_with_two_decimals():
    assert yuan(Decimal("12.3")) == "¥12.30"
    assert yuan(Decimal("1234.5")) == "¥1,234.50"
    assert yuan(Decimal("-1")) == "-¥1.00"
    assert yuan(None) == "—"


def test_prices_keep_their_four_catalogue_decimals():
    assert price(Decimal("0.509")) == "¥0.5090/kWh"


def test_energy_reads_in_kwh_with_three_decimals():
    assert kwh(1234) == "1.234 kWh"
    assert kwh(0) == "0.000 kWh"


def test_power_switches_to_kw_at_one_kilowatt():
    assert power(850.4) == "850 W"
    assert power(1850.0) == "1.85 kW"
    assert power(None) == "—"


def test_times_are_shown_in_shanghai():
    assert when(datetime(2026, 6, 1, 10, 0, tzinfo=UTC)) == "2026-06-01 18:00:00"
    assert when(datetime(2026, 6, 1, 10, 0)) == "2026-06-01 18:00:00"  # naive from SQLite means UTC


def test_badges_share_one_colour_language():
    assert badge("active") == badge("online") == "ok"
    assert badge("starting") == badge("stopping") == "wait"
    assert badge("failed") == "bad"
    assert badge("offline") == "off"


def test_only_local_paths_are_followed_after_sign_in():
    assert safe_next("/s/abc?x=1") == "/s/abc?x=1"
    for outside in ("https://evil.example", "//evil.example", "/\\evil.example", "evil", "", None, "/a\r\nSet-Cookie:"):
        assert safe_next(outside) is None


def test_an_alarm_s_figures_carry_the_unit_of_their_kind():
    assert display.alarm_value(Decimal("18.42516"), "outlet_overload") == "18.4 A"
    assert display.alarm_value(Decimal("242.1"), "over_voltage") == "242.1 V"
    assert display.alarm_value(Decimal("21.5"), "point_over_capacity") == "21.50 kW"
    assert display.alarm_value(Decimal("16.000"), "meter_flooding") == "16"
    assert display.alarm_value(None, "under_voltage") == "—"
