"""Charts laid out as plain numbers for inline SVG: daily bars, and a curve of readings over time."""
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from backend.core.clock import as_utc as _utc

Number = int | float | Decimal


@dataclass(frozen=True)
class Bar:
    day: date
    x: float
    y: float
    width: float
    height: float
    shown: str


@dataclass(frozen=True)
class Bars:
    bars: list[Bar]
    width: int
    height: int
    baseline: float
    first: date | None
    last: date | None
    most: str

    @property
    def empty(self) -> bool:
        return all(bar.height == 0 for bar in self.bars)


@dataclass(frozen=True)
class Curve:
    points: str  # "x,y x,y …" for an SVG polyline
    limits: list[float]  # y of each limit line inside the range
    width: int
    height: int
    start: datetime
    end: datetime
    low: str
    high: str


BAR_STEP, BAR_WIDTH, BAR_AREA = 24, 18, 100


def daily_bars(days: Sequence[tuple[date, Number]], shown: Callable[[Number], str]) -> Bars:
    """One bar per day, the tallest reaching the top; `shown` writes a value for people."""
    top = max((float(v) for _, v in days), default=0.0)
    bars = [Bar(day, i * BAR_STEP + (BAR_STEP - BAR_WIDTH) / 2, round(BAR_AREA + 4 - _scaled(v, top), 1),
                BAR_WIDTH, round(_scaled(v, top), 1), shown(v)) for i, (day, v) in enumerate(days)]
    most = max(days, key=lambda d: d[1])[1] if days else 0
    return Bars(bars, max(len(days), 1) * BAR_STEP, BAR_AREA + 6, BAR_AREA + 4.5,
                days[0][0] if days else None, days[-1][0] if days else None, shown(most))


def _scaled(value: Number, top: float) -> float:
    return BAR_AREA * float(value) / top if top > 0 else 0.0


CURVE_WIDTH, CURVE_HEIGHT, CURVE_PAD = 600, 160, 10


def curve(samples: Sequence[tuple[datetime, float]], start: datetime, end: datetime,
          shown: Callable[[float], str], limits: Sequence[float] = ()) -> Curve:
    """Samples placed by time between `start` and `end`, scaled to their range (widened to show the limits)."""
    values = [v for _, v in samples]
    low = min([*values, *limits], default=0.0)
    high = max([*values, *limits], default=0.0)
    span = (high - low) or 1.0
    seconds = (end - start).total_seconds() or 1.0

    def y(value: float) -> float:
        return round(CURVE_HEIGHT - CURVE_PAD - (CURVE_HEIGHT - 2 * CURVE_PAD) * (value - low) / span, 1)

    points = " ".join(f"{round(CURVE_WIDTH * (_utc(t) - start).total_seconds() / seconds, 1)},{y(v)}"
                      for t, v in samples)
    return Curve(points, [y(limit) for limit in limits], CURVE_WIDTH, CURVE_HEIGHT, start, end,
                 shown(min(values, default=0.0)), shown(max(values, default=0.0)))
