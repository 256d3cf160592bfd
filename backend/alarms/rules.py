"""Pure power-quality rules: which conditions a telemetry message shows, and when they become alarms.

docs/power-quality.md explains the limits and the persistence rule in plain words; keep the two together.
"""
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache

Number = int | float | Decimal


class AlarmKind(StrEnum):
    over_voltage = "over_voltage"
    under_voltage = "under_voltage"
    outlet_overload = "outlet_overload"
    point_over_capacity = "point_over_capacity"
    supply_lost = "supply_lost"
    meter_flooding = "meter_flooding"  # not power quality: the gateway drops the meter's messages over its limit
    dtu_silent = "dtu_silent"  # not power quality: the DTU of DL/T 645 meters stopped answering
    meter_offline = "meter_offline"  # not power quality: the meter has been silent for longer than it may be

    @property
    def per_outlet(self) -> bool:
        return self in (AlarmKind.over_voltage, AlarmKind.under_voltage, AlarmKind.outlet_overload)

    @property
    def lower_is_worse(self) -> bool:
        return self in (AlarmKind.under_voltage, AlarmKind.supply_lost)


@dataclass(frozen=True)
class SupplyLimits:
    """GB/T 12325: 220 V single-phase supply stays within +7 % and −10 % of nominal."""

    nominal_v: Decimal = Decimal("220")
    over_fraction: Decimal = Decimal("0.07")
    under_fraction: Decimal = Decimal("0.10")
    # Below this on every outlet the supply is gone, not merely low.
    dead_fraction: Decimal = Decimal("0.10")

    @property
    def upper_v(self) -> Decimal:
        return self.nominal_v * (1 + self.over_fraction)

    @property
    def lower_v(self) -> Decimal:
        return self.nominal_v * (1 - self.under_fraction)

    @property
    def dead_v(self) -> Decimal:
        return self.nominal_v * self.dead_fraction


GB_T_12325 = SupplyLimits()


@dataclass(frozen=True)
class Persistence:
    """An alarm opens after `open_after` samples in a row out of range, closes after `close_after` back in."""

    open_after: int = 3
    close_after: int = 3

    def __post_init__(self):
        if self.open_after < 1 or self.close_after < 1:
            raise ValueError("persistence counts must be at least 1")


DEFAULT_PERSISTENCE = Persistence()


@dataclass(frozen=True)
class OutletMeasure:
    """One outlet's electrical values in one telemetry message."""

    channel: int
    voltage_v: Number
    current_a: Number
    power_w: Number


@dataclass(frozen=True)
class Condition:
    """A limit broken at one moment: by one outlet (channel) or by the whole point (channel None)."""

    kind: AlarmKind
    channel: int | None
    value: Decimal
    limit: Decimal

    @property
    def key(self) -> tuple[AlarmKind, int | None]:
        return self.kind, self.channel


def exact(value: Number) -> Decimal:
    """A measured float as the decimal the meter wrote (235.4 stays 235.4, not 235.400000000000005…)."""
    return value if isinstance(value, Decimal) else Decimal(str(value))


def conditions_present(outlets: Sequence[OutletMeasure], rated_current_a: Mapping[int, Number],
                       capacity_kw: Number, limits: SupplyLimits = GB_T_12325) -> frozenset[Condition]:
    """Every condition one telemetry message shows; an outlet missing from `rated_current_a` is not checked."""
    if not outlets or plainly_within_limits(outlets, rated_current_a, capacity_kw, limits):
        return frozenset()
    return exact_conditions(outlets, rated_current_a, capacity_kw, limits)


def exact_conditions(outlets: Sequence[OutletMeasure], rated_current_a: Mapping[int, Number],
                     capacity_kw: Number, limits: SupplyLimits = GB_T_12325) -> frozenset[Condition]:
    """`conditions_present` by exact decimal comparisons alone."""
    lost = supply_lost(outlets, limits)
    found = {lost} if lost else set()
    for outlet in outlets:
        found |= outlet_conditions(outlet, rated_current_a.get(outlet.channel), limits, voltage=lost is None)
    over = point_over_capacity(outlets, capacity_kw)
    return frozenset(found | ({over} if over else set()))


# Far more than a float's rounding, far less than any reading's precision: inside it, floats decide nothing.
_MARGIN = 1e-9


def plainly_within_limits(outlets: Sequence[OutletMeasure], rated_current_a: Mapping[int, Number],
                          capacity_kw: Number, limits: SupplyLimits = GB_T_12325) -> bool:
    """True only when every value is clearly inside its limits, judged in floats with a margin.

    Most messages show nothing wrong; this spares them the exact decimal comparison. Anything near
    a limit is left to the exact rules, so the answer never differs from theirs (a property test says so).
    """
    lower, upper = _float_bounds(limits)
    total_w = 0.0
    for outlet in outlets:
        volts, amps = float(outlet.voltage_v), float(outlet.current_a)
        if not lower < volts < upper:
            return False
        rated = rated_current_a.get(outlet.channel)
        if rated is not None and amps >= float(rated) * (1 - _MARGIN):
            return False
        total_w += float(outlet.power_w)
    return total_w < float(capacity_kw) * 1000 * (1 - _MARGIN * len(outlets))


@lru_cache(maxsize=8)
def _float_bounds(limits: SupplyLimits) -> tuple[float, float]:
    return float(limits.lower_v) * (1 + _MARGIN), float(limits.upper_v) * (1 - _MARGIN)


def outlet_conditions(outlet: OutletMeasure, rated_current_a: Number | None, limits: SupplyLimits = GB_T_12325,
                      voltage: bool = True) -> set[Condition]:
    """Over- or under-voltage and overload of one outlet (voltage=False while the whole supply is lost)."""
    found = set()
    volts = exact(outlet.voltage_v)
    if voltage and volts > limits.upper_v:
        found.add(Condition(AlarmKind.over_voltage, outlet.channel, volts, limits.upper_v))
    if voltage and volts < limits.lower_v:
        found.add(Condition(AlarmKind.under_voltage, outlet.channel, volts, limits.lower_v))
    amps = exact(outlet.current_a)
    if rated_current_a is not None and amps > exact(rated_current_a):
        found.add(Condition(AlarmKind.outlet_overload, outlet.channel, amps, exact(rated_current_a)))
    return found


def point_over_capacity(outlets: Iterable[OutletMeasure], capacity_kw: Number) -> Condition | None:
    """The point's outlets together draw more than its contracted capacity."""
    total_kw = sum((exact(o.power_w) for o in outlets), Decimal(0)) / 1000
    limit = exact(capacity_kw)
    return Condition(AlarmKind.point_over_capacity, None, total_kw, limit) if total_kw > limit else None


def supply_lost(outlets: Sequence[OutletMeasure], limits: SupplyLimits = GB_T_12325) -> Condition | None:
    """Every outlet reads (almost) 0 V while the meter still reports: the supply is gone."""
    highest = max(exact(o.voltage_v) for o in outlets)
    return Condition(AlarmKind.supply_lost, None, highest, limits.dead_v) if highest < limits.dead_v else None


# --- persistence: one small state machine per (outlet or point, kind) ---


class Change(StrEnum):
    opened = "opened"
    closed = "closed"


@dataclass(frozen=True)
class Watch:
    """Where one (outlet, kind) stands: alarm open or not, and the run of samples that disagree with that."""

    is_open: bool = False
    run: int = 0
    run_started_at: datetime | None = None
    worst: Decimal | None = None

    @property
    def idle(self) -> bool:
        return not self.is_open and self.run == 0


IDLE = Watch()


@dataclass(frozen=True)
class Transition:
    change: Change
    at: datetime
    worst: Decimal | None


def worse(kind: AlarmKind, current: Decimal | None, candidate: Decimal | None) -> Decimal | None:
    """The worse of two measured values of a kind (the lower voltage, the higher current or load)."""
    if current is None or candidate is None:
        return candidate if current is None else current
    pick = min if kind.lower_is_worse else max
    return pick(current, candidate)


def step(watch: Watch, kind: AlarmKind, condition: Condition | None, at: datetime,
         policy: Persistence = DEFAULT_PERSISTENCE) -> tuple[Watch, Transition | None]:
    """Feed one sample (condition present or None); return the new watch and what changed, if anything."""
    present = condition is not None
    value = condition.value if condition else None
    if watch.is_open:
        return _step_open(watch, kind, present, value, at, policy)
    return _step_closed(watch, kind, present, value, at, policy)


def _step_closed(watch: Watch, kind: AlarmKind, present: bool, value: Decimal | None, at: datetime,
                 policy: Persistence) -> tuple[Watch, Transition | None]:
    if not present:
        return IDLE, None
    started = watch.run_started_at if watch.run else at
    pending = Watch(False, watch.run + 1, started, worse(kind, watch.worst if watch.run else None, value))
    if pending.run < policy.open_after:
        return pending, None
    return Watch(True, 0, None, pending.worst), Transition(Change.opened, started, pending.worst)


def _step_open(watch: Watch, kind: AlarmKind, present: bool, value: Decimal | None, at: datetime,
               policy: Persistence) -> tuple[Watch, Transition | None]:
    if present:
        return Watch(True, 0, None, worse(kind, watch.worst, value)), None
    started = watch.run_started_at if watch.run else at
    if watch.run + 1 < policy.close_after:
        return replace(watch, run=watch.run + 1, run_started_at=started), None
    return IDLE, Transition(Change.closed, started, watch.worst)


def force_open(watch: Watch, at: datetime) -> tuple[Watch, Transition | None]:
    """The meter itself says so (loss of supply): open now, without waiting for samples."""
    if watch.is_open:
        return replace(watch, run=0, run_started_at=None), None
    # Samples already out of range say when it began.
    since = min(watch.run_started_at, at) if watch.run else at
    worst = watch.worst if watch.run else None
    return Watch(True, 0, None, worst), Transition(Change.opened, since, worst)


def force_close(watch: Watch, at: datetime) -> tuple[Watch, Transition | None]:
    """The meter itself says the condition is over: close now."""
    if not watch.is_open:
        return IDLE, None
    return IDLE, Transition(Change.closed, at, watch.worst)


# --- outage time ---


def time_within(intervals: Iterable[tuple[datetime, datetime | None]], start: datetime, end: datetime,
                now: datetime) -> timedelta:
    """Total time covered by the intervals inside [start, end); an open interval runs until `now`."""
    clipped = sorted((max(s, start), min(e if e is not None else now, end)) for s, e in intervals)
    total, reached = timedelta(0), start
    for begin, finish in clipped:
        begin = max(begin, reached)  # overlapping intervals count once
        if finish > begin:
            total += finish - begin
            reached = finish
    return total


def hours(span: timedelta) -> float:
    return span.total_seconds() / 3600


def describe(kind: AlarmKind, channel: int | None, limit: Decimal, limits: SupplyLimits = GB_T_12325) -> str:
    """The alarm's text for operators and applicants."""
    where = f"Outlet {channel}" if channel is not None else "Point"
    nominal = f"{limits.nominal_v.normalize():f} V"
    match kind:
        case AlarmKind.over_voltage:
            return (f"{where}: over-voltage 过电压, above {_plain(limit)} V "
                    f"({nominal} +{_percent(limits.over_fraction)}, GB/T 12325)")
        case AlarmKind.under_voltage:
            return (f"{where}: under-voltage 欠电压, below {_plain(limit)} V "
                    f"({nominal} −{_percent(limits.under_fraction)}, GB/T 12325)")
        case AlarmKind.outlet_overload:
            return f"{where}: overload 过载, current above the rated {_plain(limit)} A"
        case AlarmKind.point_over_capacity:
            return f"{where}: load above the contracted {_plain(limit)} kW 超容量"
        case AlarmKind.supply_lost:
            return f"{where}: loss of supply 停电"
        case AlarmKind.meter_flooding:
            return f"Meter: more than {_plain(limit)} messages/s, the excess dropped 报文过多"
        case AlarmKind.dtu_silent:
            return (f"DTU silent for more than {_plain(limit)} s: its meters can be neither read nor switched, "
                    f"no session starts 采集终端失联")
        case AlarmKind.meter_offline:
            return f"Meter: silent for more than {_plain(limit)} s, offline 离线"


def _plain(number: Decimal) -> str:
    return f"{number.normalize():f}"


def _percent(fraction: Decimal) -> str:
    return f"{(fraction * 100).normalize():f} %"
