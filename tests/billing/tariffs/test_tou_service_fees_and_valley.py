from datetime import datetime, timedelta
from decimal import Decimal

from billing.tariffs import (
    ServiceFeeLine,
    bill_total,
    load_seed_tariff,
    load_tariff,
    service_fee_lines,
    split_by_tariff_period,
    valley_equivalent,
)
from billing.tariffs.clock import SHANGHAI

JULY_EVENING = [(datetime(2025, 7, 15, 21, 30, tzinfo=SHANGHAI) + timedelta(minutes=15 * i), 1234 * i)
                for i in range(9)]


def with_service_fees(document, *fees):
    for version, fee in zip(document["versions"], fees):
        version["service_fee"] = fee
    return load_tariff(document)


def test_service_fees_are_lines_of_their_own(seed_document):
    tariff = with_service_fees(seed_document, {"per_kwh": "0.05", "per_session": "0.50"})
    energy = split_by_tariff_period(JULY_EVENING, tariff)
    fees = service_fee_lines(energy, tariff)
    assert fees == [ServiceFeeLine("2025-06-01", "per_session", None, Decimal("0.50"), Decimal("0.50")),
                    ServiceFeeLine("2025-06-01", "per_kwh", 9872, Decimal("0.05"), Decimal("0.49"))]  # 0.4936
    assert bill_total(energy + fees) == Decimal("7.61") + Decimal("0.99")


def test_across_versions_the_session_fee_is_charged_once_and_the_kwh_fee_per_version(repriced):
    document = repriced.model_dump(mode="json")
    tariff = with_service_fees(document, {"per_kwh": "0.05", "per_session": "0.50"},
                               {"per_kwh": "0.06", "per_session": "0.80"})
    readings = [(datetime(2025, 6, 30, 23, tzinfo=SHANGHAI), 0), (datetime(2025, 7, 1, 1, tzinfo=SHANGHAI), 2000)]
    fees = service_fee_lines(split_by_tariff_period(readings, tariff), tariff)
    assert [(fee.version, fee.basis, fee.energy_wh, fee.amount) for fee in fees] == [
        ("2025-06-01", "per_session", None, Decimal("0.50")),
        ("2025-06-01", "per_kwh", 1000, Decimal("0.05")),
        ("2025-07-01", "per_kwh", 1000, Decimal("0.06"))]


def test_a_tariff_without_service_fees_bills_none(jiangsu):
    assert service_fee_lines(split_by_tariff_period(JULY_EVENING, jiangsu), jiangsu) == []


def test_valley_equivalent_prices_each_line_at_the_valley_price(jiangsu):
    lines = split_by_tariff_period(JULY_EVENING, jiangsu)
    assert valley_equivalent(lines, jiangsu) == Decimal("0.58") + Decimal("1.74")  # 0.578746 and 1.736238
    assert valley_equivalent(lines, jiangsu) < bill_total(lines)


def test_valley_equivalent_of_a_single_price_is_the_bill():
    tariff = load_seed_tariff("agricultural_production_flat")
    lines = split_by_tariff_period(JULY_EVENING, tariff)
    assert valley_equivalent(lines, tariff) == bill_total(lines) == Decimal("5.02")  # 9872 Wh × 0.5090
