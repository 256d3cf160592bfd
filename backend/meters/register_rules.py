"""Pure register rules: classify each step between an outlet's readings and bill only energy that is safe.

docs/register-rules.md explains every rule in plain words; keep the two together.
"""
from functools import lru_cache
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

NOMINAL_VOLTAGE_V = 230
DEFAULT_TOLERANCE = Decimal("1.2")
# Registers count whole Wh, so a register can show up to one Wh more than was drawn since the last reading.
REGISTER_RESOLUTION_WH = 1
# A DL/T 645-2007 register counts 0.01 kWh: it can show up to 10 Wh more than was drawn since the last reading.
DLT645_RESOLUTION_WH = 10
# An eight-digit register counting whole Wh shows at most 99 999 999 Wh, then 0.
ROLLOVER_WH = 99_999_999 + 1
# A DL/T 645-2007 energy register is XXXXXX.XX kWh: at most 999 999.99 kWh, then 0, in steps of 10 Wh.
DLT645_ROLLOVER_WH = 99_999_999 * 10 + 10

Number = int | Decimal | Fraction | float


@dataclass(frozen=True)
class RegisterModel:
    """How an outlet's register counts: its resolution, and the value at which it shows 0 again."""

    step_wh: int = REGISTER_RESOLUTION_WH
    rollover_wh: int = ROLLOVER_WH

    def options(self) -> dict[str, int]:
        """The keyword arguments of the rules below."""
        return {"step_wh": self.step_wh, "rollover_wh": self.rollover_wh}


WHOLE_WH = RegisterModel()
DLT645_REGISTER = RegisterModel(DLT645_RESOLUTION_WH, DLT645_ROLLOVER_WH)


class StepKind(StrEnum):
    NORMAL = "normal"
    DUPLICATE = "duplicate"
    OUT_OF_ORDER = "out_of_order"
    REBOOTED = "rebooted"
    ROLLOVER = "rollover"
    METER_RESET = "meter_reset"
    WENT_BACKWARDS = "went_backwards"
    IMPOSSIBLE_JUMP = "impossible_jump"
    CLOCK_WENT_BACKWARDS = "clock_went_backwards"
    MISSING_STOP = "missing_stop"

    @property
    def is_anomaly(self) -> bool:
        return self not in (StepKind.NORMAL, StepKind.DUPLICATE)

    @property
    def needs_review(self) -> bool:
        return self in _NEEDS_REVIEW


_NEEDS_REVIEW = frozenset({
    StepKind.METER_RESET,
    StepKind.WENT_BACKWARDS,
    StepKind.IMPOSSIBLE_JUMP,
    StepKind.CLOCK_WENT_BACKWARDS,
    StepKind.MISSING_STOP,
})


@dataclass(frozen=True)
class Reading:
    """One outlet's cumulative energy register as its meter reported it."""

    boot_id: str
    seq: int
    time: datetime
    register_wh: int

    def __post_init__(self):
        if self.time.utcoffset() is None:
            raise ValueError("a reading's time must carry a UTC offset")
        if self.register_wh < 0:
            raise ValueError(f"a register cannot be negative, got {self.register_wh} Wh")


@dataclass(frozen=True)
class Step:
    """What happened between two readings, and the Wh it can vouch for."""

    kind: StepKind
    energy_wh: int
    reason: str = ""


@dataclass(frozen=True)
class Anomaly:
    """A step worth telling the operator about; index is the position of the reading that ends it."""

    index: int
    kind: StepKind
    reason: str


@dataclass(frozen=True)
class EnergyVerdict:
    billable_wh: int
    anomalies: tuple[Anomaly, ...] = ()
    # (index of the reading that ends a step, Wh billed for that step); skipped readings are absent.
    billed_steps: tuple[tuple[int, int], ...] = ()

    @property
    def needs_review(self) -> bool:
        return any(anomaly.kind.needs_review for anomaly in self.anomalies)


def outlet_rated_power_w(rated_current_a: Decimal) -> Decimal:
    return rated_current_a * NOMINAL_VOLTAGE_V


def max_plausible_wh(rated_power_w: Number, elapsed: timedelta, tolerance: Number = DEFAULT_TOLERANCE,
                     step_wh: int = REGISTER_RESOLUTION_WH) -> int:
    """Most Wh a register can advance in elapsed: rated power × time × tolerance, plus one register step."""
    if elapsed < timedelta(0):
        raise ValueError(f"elapsed time cannot be negative, got {elapsed}")
    numerator, denominator = _watts_allowed(rated_power_w, tolerance)
    microseconds = elapsed // timedelta(microseconds=1)
    # Integer maths: W × µs / (3600 × 10⁶) is Wh; this runs once per reading, so it must be cheap.
    return numerator * microseconds // (denominator * 3_600_000_000) + step_wh


@lru_cache(maxsize=1024)
def _watts_allowed(rated_power_w: Number, tolerance: Number) -> tuple[int, int]:
    """Rated power × tolerance as an exact fraction (numerator, denominator)."""
    power, factor = _exact(rated_power_w), _exact(tolerance)
    if power <= 0:
        raise ValueError(f"rated power must be positive, got {rated_power_w} W")
    if factor < 1:
        raise ValueError(f"a tolerance below 1 would call an honest meter at full load impossible, got {tolerance}")
    allowed = power * factor
    return allowed.numerator, allowed.denominator


def classify_step(
    previous: Reading,
    current: Reading,
    rated_power_w: Number,
    tolerance: Number = DEFAULT_TOLERANCE,
    *,
    rollover_wh: int = ROLLOVER_WH,
    step_wh: int = REGISTER_RESOLUTION_WH,
) -> Step:
    """Classify the step from one reading of an outlet to the next (`step_wh`: the register's resolution)."""
    if current.boot_id != previous.boot_id:
        return _step_across_boots(previous, current, rated_power_w, tolerance, step_wh)
    if current.seq <= previous.seq:
        if current == previous:
            return Step(StepKind.DUPLICATE, 0, f"seq {current.seq} delivered again")
        return Step(StepKind.OUT_OF_ORDER, 0,
                    f"seq {current.seq} of boot {current.boot_id} came after seq {previous.seq}; ignored")
    elapsed = current.time - previous.time
    if elapsed < timedelta(0):
        return _clock_went_backwards(previous, current)
    limit = max_plausible_wh(rated_power_w, elapsed, tolerance, step_wh)
    rise = current.register_wh - previous.register_wh
    if rise >= 0:
        if rise <= limit:
            return Step(StepKind.NORMAL, rise)
        return _impossible(rise, elapsed, limit, rated_power_w, tolerance)
    wrapped = rollover_wh - previous.register_wh + current.register_wh
    if previous.register_wh < rollover_wh and wrapped <= limit:
        return Step(StepKind.ROLLOVER, wrapped,
                    f"register wrapped past {rollover_wh - 1} Wh, from {previous.register_wh} to "
                    f"{current.register_wh} Wh: {wrapped} Wh")
    return Step(StepKind.WENT_BACKWARDS, 0,
                f"register went back from {previous.register_wh} to {current.register_wh} Wh within boot "
                f"{current.boot_id}, and is no rollover; nothing billed for this step")


def billable_energy(
    readings: Sequence[Reading],
    rated_power_w: Number,
    tolerance: Number = DEFAULT_TOLERANCE,
    *,
    rollover_wh: int = ROLLOVER_WH,
    step_wh: int = REGISTER_RESOLUTION_WH,
) -> EnergyVerdict:
    """Energy that can safely be billed from the first reading (start) to the last (stop) of one outlet."""
    if not readings:
        raise ValueError("a session has at least its start reading")
    previous = readings[0]
    boots = {previous.boot_id}
    # The highest Wh of the current counter already billed, so no Wh is billed twice after a dip.
    billed_to = previous.register_wh
    metered = timedelta(0)
    total = 0
    anomalies: list[Anomaly] = []
    billed: list[tuple[int, int]] = []
    for index, current in enumerate(readings[1:], start=1):
        if current.boot_id != previous.boot_id and current.boot_id in boots:
            anomalies.append(Anomaly(index, StepKind.OUT_OF_ORDER,
                                     f"a reading of earlier boot {current.boot_id} came after boot "
                                     f"{previous.boot_id}; ignored"))
            continue
        step = classify_step(previous, current, rated_power_w, tolerance, rollover_wh=rollover_wh, step_wh=step_wh)
        if step.kind in (StepKind.DUPLICATE, StepKind.OUT_OF_ORDER):
            if step.kind.is_anomaly:
                anomalies.append(Anomaly(index, step.kind, step.reason))
            continue
        metered += max(current.time - previous.time, timedelta(0))
        energy = _not_yet_billed(step.kind, previous, current, billed_to, rollover_wh)
        billed_to = _next_billed_to(step.kind, current, billed_to)
        cap = max_plausible_wh(rated_power_w, metered, tolerance, step_wh)
        if total + energy > cap:
            step = Step(StepKind.IMPOSSIBLE_JUMP, 0,
                        f"the session would reach {total + energy} Wh in {metered}, more than "
                        f"{rated_power_w} W × {tolerance} can deliver ({cap} Wh); nothing billed for this step")
            energy = 0
        total += energy
        billed.append((index, energy))
        boots.add(current.boot_id)
        previous = current
        if step.kind.is_anomaly:
            anomalies.append(Anomaly(index, step.kind, step.reason))
    return EnergyVerdict(total, tuple(anomalies), tuple(billed))


@dataclass(frozen=True)
class LiveTally:
    """An open session's energy so far, advanced one reading at a time by the same rules as the bill."""

    start: Reading
    last: Reading
    billed_to: int  # the highest Wh of the current counter already counted
    energy_wh: int = 0
    review: str = ""  # the first step that needs an operator's review, in words

    @classmethod
    def starting_at(cls, start: Reading) -> "LiveTally":
        return cls(start, start, start.register_wh)


def advance(tally: LiveTally, current: Reading, rated_power_w: Number, tolerance: Number = DEFAULT_TOLERANCE,
            *, rollover_wh: int = ROLLOVER_WH, step_wh: int = REGISTER_RESOLUTION_WH) -> LiveTally:
    """The tally after one more reading: never less energy than before, whatever the register did.

    A repeated or out-of-order reading changes nothing; the final bill, which sees every reading
    in order, may differ slightly from the live figure and is the one that counts.
    """
    step = classify_step(tally.last, current, rated_power_w, tolerance, rollover_wh=rollover_wh, step_wh=step_wh)
    if step.kind in (StepKind.DUPLICATE, StepKind.OUT_OF_ORDER):
        return tally
    energy = _not_yet_billed(step.kind, tally.last, current, tally.billed_to, rollover_wh)
    billed_to = _next_billed_to(step.kind, current, tally.billed_to)
    cap = max_plausible_wh(rated_power_w, max(current.time - tally.start.time, timedelta(0)), tolerance, step_wh)
    if tally.energy_wh + energy > cap:
        step, energy = Step(StepKind.IMPOSSIBLE_JUMP, 0, f"the session would reach {tally.energy_wh + energy} Wh, "
                                                         f"more than the outlet can deliver ({cap} Wh)"), 0
    review = tally.review or (step.reason if step.kind.needs_review else "")
    return LiveTally(tally.start, current, billed_to, tally.energy_wh + energy, review)


def energy_without_stop(
    readings: Sequence[Reading],
    rated_power_w: Number,
    tolerance: Number = DEFAULT_TOLERANCE,
    *,
    rollover_wh: int = ROLLOVER_WH,
    step_wh: int = REGISTER_RESOLUTION_WH,
) -> EnergyVerdict:
    """Bill a session that never got its stop reading up to the last reading received, flagged for review."""
    verdict = billable_energy(readings, rated_power_w, tolerance, rollover_wh=rollover_wh, step_wh=step_wh)
    last = readings[-1]
    missing = Anomaly(len(readings) - 1, StepKind.MISSING_STOP,
                      f"no stop reading; billed up to the last reading received (boot {last.boot_id}, "
                      f"seq {last.seq}, {last.time.isoformat()}, {last.register_wh} Wh)")
    return replace(verdict, anomalies=(*verdict.anomalies, missing))


def _step_across_boots(previous: Reading, current: Reading, rated_power_w: Number, tolerance: Number,
                       step_wh: int) -> Step:
    restart = f"meter restarted (boot {previous.boot_id} → {current.boot_id})"
    if current.register_wh < previous.register_wh:
        return Step(StepKind.METER_RESET, 0,
                    f"{restart} with its register back from {previous.register_wh} to {current.register_wh} Wh; "
                    f"only energy after the new boot's first reading is billed")
    elapsed = current.time - previous.time
    if elapsed < timedelta(0):
        return _clock_went_backwards(previous, current)
    limit = max_plausible_wh(rated_power_w, elapsed, tolerance, step_wh)
    rise = current.register_wh - previous.register_wh
    if rise > limit:
        return _impossible(rise, elapsed, limit, rated_power_w, tolerance, f" across a {restart}")
    return Step(StepKind.REBOOTED, rise,
                f"{restart}; its register carried on from {previous.register_wh} to {current.register_wh} Wh")


def _clock_went_backwards(previous: Reading, current: Reading) -> Step:
    return Step(StepKind.CLOCK_WENT_BACKWARDS, 0,
                f"meter clock went back from {previous.time.isoformat()} to {current.time.isoformat()}; "
                f"nothing billed for this step")


def _impossible(rise: int, elapsed: timedelta, limit: int, rated_power_w: Number, tolerance: Number,
                where: str = "") -> Step:
    return Step(StepKind.IMPOSSIBLE_JUMP, 0,
                f"register rose {rise} Wh in {elapsed}{where}, but {rated_power_w} W × {tolerance} delivers "
                f"at most {limit} Wh in that time; nothing billed for this step")


def _not_yet_billed(kind: StepKind, previous: Reading, current: Reading, billed_to: int, rollover_wh: int) -> int:
    floor_wh = max(previous.register_wh, billed_to)
    if kind in (StepKind.NORMAL, StepKind.REBOOTED):
        return max(0, current.register_wh - floor_wh)
    if kind is StepKind.ROLLOVER:
        return max(0, rollover_wh - floor_wh) + current.register_wh
    return 0


def _next_billed_to(kind: StepKind, current: Reading, billed_to: int) -> int:
    if kind in (StepKind.METER_RESET, StepKind.ROLLOVER):
        return current.register_wh  # a new counter, or a new lap of the old one
    if kind in (StepKind.NORMAL, StepKind.REBOOTED):
        return max(billed_to, current.register_wh)
    return billed_to


def _exact(value: Number) -> Fraction:
    # Through str, so a tolerance written 1.2 means exactly 6/5, not the nearest binary float.
    return Fraction(str(value)) if isinstance(value, float) else Fraction(value)
