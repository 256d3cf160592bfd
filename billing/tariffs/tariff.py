"""A tariff: named, categorised, and a list of versions each effective from a local date."""
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, Field, model_validator

from billing.tariffs.clock import local_start
from billing.tariffs.schedule import PositiveDecimal, TimeOfUse

# The period name on lines of a version with one price all day.
ALL_DAY = "all_day"

LocalStart = Annotated[datetime, BeforeValidator(local_start)]


class Category(StrEnum):
    agricultural = "agricultural"
    commercial = "commercial"
    residential = "residential"


class ServiceFee(BaseModel, frozen=True, extra="forbid"):
    """A platform service fee, billed apart from the energy price (价费分离)."""

    per_kwh: PositiveDecimal | None = None
    per_session: PositiveDecimal | None = None

    @model_validator(mode="after")
    def _charges_something(self) -> "ServiceFee":
        if self.per_kwh is None and self.per_session is None:
            raise ValueError("a service fee needs per_kwh, per_session or both")
        return self


class TariffVersion(BaseModel, frozen=True, extra="forbid"):
    """The prices in effect from `effective_from` (Asia/Shanghai) until the next version."""

    label: str = Field(min_length=1)
    effective_from: LocalStart
    price_per_kwh: PositiveDecimal | None = None
    time_of_use: TimeOfUse | None = None
    service_fee: ServiceFee | None = None
    note: str = ""

    @model_validator(mode="after")
    def _one_way_to_price(self) -> "TariffVersion":
        if (self.price_per_kwh is None) == (self.time_of_use is None):
            raise ValueError(f"version {self.label!r} needs exactly one of price_per_kwh and time_of_use")
        return self

    def period_at(self, instant: datetime) -> tuple[str, Decimal, datetime | None]:
        """The period at `instant`, its price, and the instant it ends (None: it does not)."""
        if self.time_of_use is None:
            return ALL_DAY, self.price_per_kwh, None
        return self.time_of_use.period_at(instant)

    def lowest_price(self) -> Decimal:
        return self.price_per_kwh if self.time_of_use is None else self.time_of_use.lowest_price()

    def session_fee(self) -> Decimal:
        return self.service_fee.per_session if self.service_fee and self.service_fee.per_session else Decimal("0.00")

    def highest_price(self) -> Decimal:
        """The dearest energy price of this version plus its per-kWh service fee."""
        energy = self.price_per_kwh if self.time_of_use is None else self.time_of_use.highest_price()
        fee = self.service_fee.per_kwh if self.service_fee and self.service_fee.per_kwh else Decimal(0)
        return energy + fee


class Tariff(BaseModel, frozen=True, extra="forbid"):
    """A tariff's versions, sorted by strictly increasing `effective_from`."""

    name: str = Field(min_length=1)
    title: str = ""
    category: Category
    source: str = ""
    note: str = ""
    versions: tuple[TariffVersion, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _versions_in_order(self) -> "Tariff":
        problems = [f"version {later.label!r} ({later.effective_from:%Y-%m-%d %H:%M}) must take effect "
                    f"after {earlier.label!r} ({earlier.effective_from:%Y-%m-%d %H:%M})"
                    for earlier, later in zip(self.versions, self.versions[1:])
                    if later.effective_from <= earlier.effective_from]
        labels = [version.label for version in self.versions]
        problems += [f"version label {label!r} is used twice" for label in sorted(set(labels))
                     if labels.count(label) > 1]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def highest_price_from(self, instant: datetime) -> Decimal:
        """The dearest price per kWh of any version in effect at or after `instant`."""
        return max(version.highest_price() for version in self._versions_from(instant))

    def highest_session_fee_from(self, instant: datetime) -> Decimal:
        """The largest per-session service fee of any version in effect at or after `instant`."""
        return max(version.session_fee() for version in self._versions_from(instant))

    def _versions_from(self, instant: datetime) -> list[TariffVersion]:
        current = [v for v in self.versions if v.effective_from <= instant][-1:]
        later = [v for v in self.versions if v.effective_from > instant]
        return current + later or list(self.versions)

    def version_labelled(self, label: str) -> TariffVersion:
        return next(version for version in self.versions if version.label == label)
