"""Which tariff version and period is in effect at an instant, and until when."""
from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from billing.tariffs.tariff import Tariff, TariffVersion


class NoTariffInEffect(ValueError):
    """The instant is before the tariff's first version takes effect."""


@dataclass(frozen=True)
class PeriodInEffect:
    version: TariffVersion
    period: str
    price_per_kwh: Decimal
    until: datetime | None  # the next instant the version or the period may change; None: never


def period_in_effect(tariff: Tariff, instant: datetime) -> PeriodInEffect:
    """The version and period at `instant` (an aware datetime)."""
    index = bisect_right([version.effective_from for version in tariff.versions], instant) - 1
    if index < 0:
        first = tariff.versions[0].effective_from
        raise NoTariffInEffect(f"tariff {tariff.name!r} takes effect at {first:%Y-%m-%d %H:%M}, after {instant}")
    version = tariff.versions[index]
    period, price, period_end = version.period_at(instant)
    next_version = tariff.versions[index + 1].effective_from if index + 1 < len(tariff.versions) else None
    ends = [end for end in (period_end, next_version) if end is not None]
    return PeriodInEffect(version, period, price, min(ends, default=None))
