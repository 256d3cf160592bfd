"""Pure tariff engine: versioned flat and time-of-use tariffs, and pricing a session by period."""
from billing.tariffs.lines import BilledLine, ServiceFeeLine, bill_total
from billing.tariffs.loader import InvalidTariff, load_seed_tariff, load_tariff, load_tariff_json, seed_tariff_names
from billing.tariffs.lookup import NoTariffInEffect, PeriodInEffect, period_in_effect
from billing.tariffs.readings import InvalidReadings, Reading
from billing.tariffs.service_fees import service_fee_lines
from billing.tariffs.splitting import split_by_tariff_period
from billing.tariffs.tariff import ALL_DAY, Category, ServiceFee, Tariff, TariffVersion
from billing.tariffs.valley import valley_equivalent

__all__ = [
    "ALL_DAY", "BilledLine", "Category", "InvalidReadings", "InvalidTariff", "NoTariffInEffect",
    "PeriodInEffect", "Reading", "ServiceFee", "ServiceFeeLine", "Tariff", "TariffVersion", "bill_total",
    "load_seed_tariff", "load_tariff", "load_tariff_json", "period_in_effect", "seed_tariff_names",
    "service_fee_lines", "split_by_tariff_period", "valley_equivalent",
]
