"""An outlet's reading marks for reconciliation: daily totals stand in for the raw rows of quiet days.

A local day is quiet for an outlet when it lies whole inside the period, no session of the outlet touches it,
its totals are up to date and clean (backend/meters/daily_totals.py), and, with a tariff, each hour's energy
prices in one tariff span. A quiet day gives the walk two marks, its first and its last reading: the step
between them is judged exactly as its clean raw steps would be (same boot, rising, within the limit), and its
energy is priced from the totals' hours, joined into runs that each lie in one tariff span (which is what
pricing the raw steps one by one adds up to). Every other day is read from the raw rows, as before.
"""
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from sqlmodel import Session, select

from backend.core.clock import LOCAL_TZ, as_utc
from backend.meters.daily_totals import day_bounds, quiet_candidates
from backend.meters.models import Reading as MeterReading
from backend.meters.models import ReadingDay
from backend.points.models import Outlet
from backend.reconciliation.period_energy import PeriodEnergy
from backend.reconciliation.timeline import Mark, OwnedStep
from backend.sessions.models import UsageSession
from billing.tariffs import NoTariffInEffect, period_in_effect


@dataclass(frozen=True)
class QuietDay:
    day: date
    first: Mark
    last: Mark
    energy_wh: int
    runs: tuple[tuple[datetime, datetime, int], ...]  # (since, until, Wh) of its rising steps, hour by hour or joined


def quiet_days(db: Session, outlet: Outlet, start: datetime, end: datetime, sessions: list[UsageSession],
               pricing: PeriodEnergy | None) -> dict[date, QuietDay]:
    """The days of [start, end) whose totals can stand in for the outlet's raw readings."""
    first, last = _whole_days(start, end)
    if first > last:
        return {}
    found = {}
    for day, row in quiet_candidates(db, outlet.meter_id, outlet.channel, first, last).items():
        if _touched(day, sessions):
            continue
        quiet = _quiet(row)
        runs = quiet.runs if pricing is None else _runs_by_tariff_span(quiet.runs, pricing)
        if runs is not None:
            found[day] = replace(quiet, runs=runs)
    return found


def _whole_days(start: datetime, end: datetime) -> tuple[date, date]:
    """The first and last local days lying whole inside [start, end)."""
    first = start.astimezone(LOCAL_TZ).date()
    if day_bounds(first)[0] < start:
        first += timedelta(days=1)
    last = end.astimezone(LOCAL_TZ).date() - timedelta(days=1)
    return first, last


def _quiet(row: ReadingDay) -> QuietDay:
    hours = tuple((datetime.fromisoformat(since), datetime.fromisoformat(until), int(wh))
                  for since, until, wh in row.hours)
    return QuietDay(row.day, Mark(as_utc(row.first_at), row.first_wh, row.first_boot),
                    Mark(as_utc(row.last_at), row.last_wh, row.last_boot), row.energy_wh, hours)


def _touched(day: date, sessions: list[UsageSession]) -> bool:
    start, end = day_bounds(day)
    return any(as_utc(s.started_at) < end and (s.ended_at is None or as_utc(s.ended_at) >= start)
               for s in sessions)


def _runs_by_tariff_span(hours: tuple[tuple[datetime, datetime, int], ...],
                         pricing: PeriodEnergy) -> tuple[tuple[datetime, datetime, int], ...] | None:
    """The hours joined into runs that each price in one tariff span; None if an hour straddles a boundary."""
    runs: list[tuple[datetime, datetime, int]] = []
    span_until: datetime | None = None
    for since, until, energy_wh in hours:
        if not runs or (span_until is not None and since >= span_until):
            try:
                span_until = period_in_effect(pricing.tariff, since).until
            except NoTariffInEffect:
                return None
            runs.append((since, until, energy_wh))
        else:
            run_since, _, run_wh = runs[-1]
            runs[-1] = (run_since, until, run_wh + energy_wh)
        if span_until is not None and until > span_until:
            return None
    return tuple(runs)


def reading_marks(db: Session, outlet: Outlet, since: datetime, until: datetime,
                  quiet: dict[date, QuietDay]) -> Iterator[Mark]:
    """The outlet's marks in [since, until) in timeline order: two per quiet day, raw rows elsewhere."""
    cursor = since
    for day in sorted(quiet):
        day_start, day_end = day_bounds(day)
        if cursor < day_start:
            yield from raw_marks(db, outlet, cursor, day_start)
        yield quiet[day].first
        if quiet[day].last != quiet[day].first:
            yield quiet[day].last
        cursor = day_end
    if cursor < until:
        yield from raw_marks(db, outlet, cursor, until)


def raw_marks(db: Session, outlet: Outlet, since: datetime, until: datetime) -> Iterator[Mark]:
    """The outlet's stored readings in [since, until), streamed in timeline order."""
    query = (select(MeterReading.device_time, MeterReading.energy_wh, MeterReading.boot_id)
             .where(MeterReading.meter_id == outlet.meter_id, MeterReading.channel == outlet.channel,
                    MeterReading.device_time >= since, MeterReading.device_time < until)
             .order_by(MeterReading.device_time, MeterReading.energy_wh, MeterReading.id)
             .execution_options(yield_per=5000))
    for device_time, energy_wh, boot_id in db.exec(query):
        yield Mark(as_utc(device_time), energy_wh, boot_id)


def pricer(pricing: PeriodEnergy, quiet: dict[date, QuietDay]) -> Callable[[OwnedStep], None]:
    """Prices unattributed steps; a quiet day's one step is priced run by run from its totals."""
    spans = {(q.first.time, q.last.time): q for q in quiet.values()}

    def add(step: OwnedStep) -> None:
        day = spans.get((step.start, step.end))
        if day is None or day.energy_wh != step.energy_wh:
            pricing.add(step.start, step.end, step.energy_wh)
            return
        for since, until, energy_wh in day.runs:
            pricing.add(since, until, energy_wh)
    return add
