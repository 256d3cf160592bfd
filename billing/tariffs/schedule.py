"""A time-of-use schedule: seasons of months, each a table of periods covering the day."""
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, Field, PlainSerializer, model_validator

from backend.core.types import Text, exact_decimal

from billing.tariffs.clock import (
    MINUTES_PER_DAY,
    SHANGHAI,
    format_clock,
    local_instant,
    parse_clock,
)

# Highest price first; a ratio must sit strictly between its neighbours' ratios.
PERIOD_NAMES = ("critical_peak", "peak", "flat", "valley", "deep_valley")
FLAT = "flat"

ClockMinute = Annotated[int, BeforeValidator(parse_clock), PlainSerializer(format_clock)]
Month = Annotated[int, Field(ge=1, le=12)]
# Four decimals each, so a price times a ratio has at most eight: what a stored price holds exactly.
Price = exact_decimal(gt=0, le=1000, places=4)
Ratio = exact_decimal(gt=0, le=100, places=4)
DayPiece = tuple[int, int, str]


class PeriodSpan(BaseModel, frozen=True, extra="forbid"):
    """One row of a period table; `end` before `start` means it runs past midnight."""

    period: Text = Field(max_length=32)
    start: ClockMinute
    end: ClockMinute

    @model_validator(mode="after")
    def _not_empty(self) -> "PeriodSpan":
        if self.start == self.end or self.start == MINUTES_PER_DAY:
            raise ValueError(f"{self.period} {self.label()} is empty")
        return self

    def label(self) -> str:
        return f"{format_clock(self.start)}–{format_clock(self.end)}"

    def day_pieces(self) -> list[DayPiece]:
        """The span on one day's clock: a span past midnight is its evening and its early morning."""
        if self.start < self.end:
            return [(self.start, self.end, self.period)]
        pieces = [(self.start, MINUTES_PER_DAY, self.period), (0, self.end, self.period)]
        return [piece for piece in pieces if piece[0] < piece[1]]


def coverage_problems(spans: tuple[PeriodSpan, ...]) -> list[str]:
    """Gaps and overlaps in a day's period table (empty when it covers 00:00–24:00 once)."""
    problems, reached = [], 0
    for start, end, period in sorted(piece for span in spans for piece in span.day_pieces()):
        if start > reached:
            problems.append(f"gap: {format_clock(reached)}–{format_clock(start)} is in no period")
        elif start < reached:
            problems.append(f"overlap: {format_clock(start)}–{format_clock(min(end, reached))} "
                            f"is in {period} and in an earlier period")
        reached = max(reached, end)
    if reached < MINUTES_PER_DAY:
        problems.append(f"gap: {format_clock(reached)}–24:00 is in no period")
    return problems


class Season(BaseModel, frozen=True, extra="forbid"):
    """The months a period table applies to; the table must cover each day exactly once."""

    name: Text = Field(min_length=1, max_length=80)
    months: tuple[Month, ...] = Field(min_length=1)
    periods: tuple[PeriodSpan, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _covers_the_day_once(self) -> "Season":
        problems = coverage_problems(self.periods)
        if problems:
            raise ValueError(f"season {self.name!r}: " + "; ".join(problems))
        return self

    def period_at(self, minute: int) -> tuple[str, int]:
        """The period at `minute` after local midnight, and the minute it ends."""
        for start, end, period in sorted(piece for span in self.periods for piece in span.day_pieces()):
            if start <= minute < end:
                return period, end
        raise AssertionError("a validated season covers the whole day")


class TimeOfUse(BaseModel, frozen=True, extra="forbid"):
    """A flat (base) price, each other period's ratio to it, and the seasons' period tables."""

    flat_price_per_kwh: Price
    ratios: dict[str, Ratio]
    seasons: tuple[Season, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> "TimeOfUse":
        problems = ratio_problems(self.ratios) + period_name_problems(self) + month_problems(self.seasons)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def price_of(self, period: str) -> Decimal:
        return self.flat_price_per_kwh * self.ratios.get(period, Decimal(1))

    def lowest_price(self) -> Decimal:
        return min(self.price_of(span.period) for season in self.seasons for span in season.periods)

    def highest_price(self) -> Decimal:
        return max(self.price_of(span.period) for season in self.seasons for span in season.periods)

    def period_at(self, instant: datetime) -> tuple[str, Decimal, datetime]:
        """The period at `instant`, its price, and the instant it ends."""
        local = instant.astimezone(SHANGHAI)
        season = next(season for season in self.seasons if local.month in season.months)
        period, end = season.period_at(local.hour * 60 + local.minute)
        return period, self.price_of(period), local_instant(local.date(), end)


def ratio_problems(ratios: dict[str, Decimal]) -> list[str]:
    """Unknown period names, a ratio for flat, and ratios out of peak-to-valley order."""
    problems = [f"unknown period {name!r} in ratios; known: {', '.join(PERIOD_NAMES)}"
                for name in ratios if name not in PERIOD_NAMES]
    if FLAT in ratios:
        problems.append("flat is the base price: it has no ratio")
    ranked = [(name, ratios.get(name, Decimal(1))) for name in PERIOD_NAMES if name in ratios or name == FLAT]
    problems += [f"ratio of {high} ({high_ratio}) must be above that of {low} ({low_ratio})"
                 for (high, high_ratio), (low, low_ratio) in zip(ranked, ranked[1:]) if high_ratio <= low_ratio]
    return problems


def period_name_problems(schedule: TimeOfUse) -> list[str]:
    """Periods in a season's table that have no price."""
    priced = {FLAT, *schedule.ratios}
    return [f"season {season.name!r}: unknown period {span.period!r} at {span.label()}; "
            f"priced periods: {', '.join(sorted(priced))}"
            for season in schedule.seasons for span in season.periods if span.period not in priced]


def month_problems(seasons: tuple[Season, ...]) -> list[str]:
    """Months in no season or in more than one."""
    months = [month for season in seasons for month in season.months]
    missing = sorted(set(range(1, 13)) - set(months))
    repeated = sorted({month for month in months if months.count(month) > 1})
    return ([f"months {missing} are in no season"] if missing else []) + \
        ([f"months {repeated} are in more than one season"] if repeated else [])
