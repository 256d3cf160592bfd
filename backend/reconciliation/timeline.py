"""Pure conservation logic: an outlet's register marks cut into steps, each owned by a session or by nobody.

docs/reconciliation.md explains the rule with a worked example; keep the two together.
"""
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum

from backend.meters.register_rules import WHOLE_WH, Number, Reading, RegisterModel, StepKind, billable_energy

# An idle stretch is judged in chunks of this many marks, so a month of one-second telemetry fits in memory.
IDLE_CHUNK_MARKS = 20_000


class MarkKind(IntEnum):
    """At the same instant and register a start comes first and a stop last; such steps carry no energy."""

    START = 0
    READING = 1
    STOP = 2


@dataclass(frozen=True, slots=True)
class Mark:
    """One known register value of an outlet: a telemetry reading, or a session's start or stop register."""

    time: datetime
    register_wh: int
    boot_id: str | None
    kind: MarkKind = MarkKind.READING
    session_id: int | None = None

    def order(self) -> tuple[datetime, int, int]:
        # Device time orders the timeline; at one instant the register can only have risen.
        return self.time, self.register_wh, self.kind


@dataclass(frozen=True, slots=True)
class OwnedStep:
    """The energy the register rules vouch for between two marks; owner None means no session was open."""

    owner: int | None
    start: datetime
    end: datetime
    energy_wh: int


@dataclass(frozen=True, slots=True)
class StepAnomaly:
    owner: int | None
    at: datetime
    kind: StepKind
    reason: str


def walk(marks: Iterable[Mark], rated_power_w: Number,
         register: RegisterModel = WHOLE_WH) -> Iterator[OwnedStep | StepAnomaly]:
    """Steps between consecutive marks (sorted by `Mark.order`), judged by the register rules per owner.

    Consecutive steps with the same owner form a segment, judged as one sequence by `billable_energy`,
    so a session's segment gets exactly the treatment its settlement got.
    """
    segment: list[Mark] = []
    segment_owner: int | None = None
    open_sessions: list[int] = []
    for mark in without_flat_interiors(_with_boots(marks)):
        owner = open_sessions[-1] if open_sessions else None
        if segment and (owner != segment_owner or (owner is None and len(segment) >= IDLE_CHUNK_MARKS)):
            if len(segment) > 1:
                yield from _judge(segment_owner, segment, rated_power_w, register)
            segment = [segment[-1]]
        segment_owner = owner
        segment.append(mark)
        _track(open_sessions, mark)
    if len(segment) > 1:
        yield from _judge(segment_owner, segment, rated_power_w, register)


def _with_boots(marks: Iterable[Mark]) -> Iterator[Mark]:
    """An ack without a boot id belongs to the boot the meter was last heard in."""
    boot = None
    for mark in marks:
        if mark.boot_id is None:
            mark = Mark(mark.time, mark.register_wh, boot or "unknown", mark.kind, mark.session_id)
        boot = mark.boot_id
        yield mark


def without_flat_interiors(marks: Iterable[Mark]) -> Iterator[Mark]:
    """Drop readings inside a run of one boot's equal registers: their steps are zero and normal either way.

    A meter reports every outlet every second while any relay is closed, so idle outlets send long runs of
    the same register; the run's first and last readings keep its time span and every rule's verdict.
    """
    kept: Mark | None = None
    pending: Mark | None = None
    for mark in marks:
        if pending is not None and not (pending.kind is MarkKind.READING and kept is not None
                                        and _flat(kept, pending) and _flat(pending, mark)):
            yield pending
            kept = pending
        pending = mark
    if pending is not None:
        yield pending


def _flat(earlier: Mark, later: Mark) -> bool:
    return earlier.boot_id == later.boot_id and earlier.register_wh == later.register_wh


def _track(open_sessions: list[int], mark: Mark) -> None:
    if mark.kind is MarkKind.START:
        open_sessions.append(mark.session_id)
    elif mark.kind is MarkKind.STOP and mark.session_id in open_sessions:
        open_sessions.remove(mark.session_id)


def _judge(owner: int | None, marks: list[Mark], rated_power_w: Number,
           register: RegisterModel) -> Iterator[OwnedStep | StepAnomaly]:
    # Marks are already in time order, so their position is their sequence number.
    readings = [Reading(m.boot_id, index, m.time, m.register_wh) for index, m in enumerate(marks)]
    verdict = billable_energy(readings, rated_power_w, **register.options())
    previous = 0
    for index, energy_wh in verdict.billed_steps:
        yield OwnedStep(owner, marks[previous].time, marks[index].time, energy_wh)
        previous = index
    for anomaly in verdict.anomalies:
        yield StepAnomaly(owner, marks[anomaly.index].time, anomaly.kind, anomaly.reason)


@dataclass
class OutletTally:
    """What one outlet's steps add up to in a period."""

    register_delta_wh: int = 0
    unattributed_wh: int = 0
    by_session: dict[int, int] = field(default_factory=dict)
    anomalies: list[StepAnomaly] = field(default_factory=list)

    @property
    def attributed_wh(self) -> int:
        return sum(self.by_session.values())


def tally(events: Iterable[OwnedStep | StepAnomaly], start: datetime, end: datetime,
          sessions_here: Collection[int],
          on_unattributed: Callable[[OwnedStep], None] | None = None) -> OutletTally:
    """Sum the steps that belong to [start, end).

    A session's steps belong to the period of `sessions_here` (sessions that ended in it, or are still
    open); a step while no session was open belongs to the period its closing mark falls in.
    """
    result = OutletTally()
    for event in events:
        if not _belongs(event.owner, event.end if isinstance(event, OwnedStep) else event.at,
                        start, end, sessions_here):
            continue
        if isinstance(event, StepAnomaly):
            result.anomalies.append(event)
            continue
        result.register_delta_wh += event.energy_wh
        if event.owner is None:
            result.unattributed_wh += event.energy_wh
            if on_unattributed is not None and event.energy_wh:
                on_unattributed(event)
        else:
            result.by_session[event.owner] = result.by_session.get(event.owner, 0) + event.energy_wh
    return result


def _belongs(owner: int | None, at: datetime, start: datetime, end: datetime, sessions_here: Collection[int]) -> bool:
    if owner is None:
        return start <= at < end
    return owner in sessions_here
