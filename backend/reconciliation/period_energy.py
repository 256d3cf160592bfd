"""Pure pricing of unattributed energy: Wh gathered per tariff version and period, each line rounded once."""
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from billing.pricing import energy_amount
from billing.tariffs import BilledLine, Tariff, period_in_effect, split_by_tariff_period
from billing.tariffs.clock import SHANGHAI

BucketKey = tuple[str, str, Decimal]  # tariff version, period, price per kWh


@dataclass
class _Bucket:
    energy_wh: int
    start: datetime
    end: datetime


@dataclass(frozen=True)
class _Span:
    """Instants known to share one version and period: [since, until); until None means for ever."""

    key: BucketKey
    since: datetime
    until: datetime | None

    def holds(self, start: datetime, end: datetime) -> bool:
        return self.since <= start and (self.until is None or end <= self.until)


class PeriodEnergy:
    """Collects scattered steps of energy by (tariff version, period); `lines()` prices each bucket once.

    A step that crosses a tariff boundary is split exactly as a session is (`split_by_tariff_period`);
    a month of steps becomes one line per period rather than one rounded line per day.
    """

    def __init__(self, tariff: Tariff):
        self.tariff = tariff
        self._buckets: dict[BucketKey, _Bucket] = {}
        self._span: _Span | None = None

    def add(self, start: datetime, end: datetime, energy_wh: int) -> None:
        if self._span is None or not self._span.holds(start, end):
            in_effect = period_in_effect(self.tariff, start)
            key = (in_effect.version.label, in_effect.period, in_effect.price_per_kwh)
            self._span = _Span(key, start, in_effect.until)
        if self._span.holds(start, end):
            self._put(self._span.key, energy_wh, start, end)
            return
        for line in split_by_tariff_period([(start, 0), (end, energy_wh)], self.tariff):
            self._put((line.version, line.period, line.price_per_kwh), line.energy_wh, line.start, line.end)

    def _put(self, key: BucketKey, energy_wh: int, start: datetime, end: datetime) -> None:
        bucket = self._buckets.get(key)
        if bucket is None:
            self._buckets[key] = _Bucket(energy_wh, start, end)
        else:
            bucket.energy_wh += energy_wh
            bucket.start, bucket.end = min(bucket.start, start), max(bucket.end, end)

    @property
    def energy_wh(self) -> int:
        return sum(bucket.energy_wh for bucket in self._buckets.values())

    def lines(self) -> list[BilledLine]:
        """One line per (version, period), rounded once, earliest first."""
        ordered = sorted(self._buckets.items(), key=lambda item: item[1].start)
        return [BilledLine(period=period, version=version, energy_wh=b.energy_wh, price_per_kwh=price,
                           amount=energy_amount(b.energy_wh, price), start=b.start.astimezone(SHANGHAI),
                           end=b.end.astimezone(SHANGHAI))
                for (version, period, price), b in ordered]
