"""Open and close power-quality alarms from telemetry and meter events; outage time and reliability."""
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from sqlmodel import Session, col, or_, select

from backend.alarms import rules
from backend.alarms.models import (OPEN_OUTLET_SQL, OPEN_POINT_SQL, POINT_CHANNEL, Alarm, AlarmWatch, PointOutage,
                                   Reliability)
from backend.alarms.rules import AlarmKind, Change, Condition, OutletMeasure, Transition, Watch
from backend.core.clock import FIRST_YEAR, LAST_YEAR, as_utc, in_service_years, local, utcnow
from backend.core.errors import ScanPowerError
from backend.core.membership import one_of
from backend.core.rows import insert_once
from backend.points.models import Meter, MeteringPoint, Outlet, PointStatus

IN_SERVICE = (PointStatus.active, PointStatus.closed, PointStatus.expired)
SHOWN_ALARMS = 200
MAX_SUPPLIES_KEPT = 200_000  # meters whose supply a telemetry lane keeps in memory; beyond, it reads them again


class InvalidPeriod(ScanPowerError):
    status_code = 422


class Sample(Protocol):
    """What evaluate_telemetry reads of each outlet (backend.meters.service.OutletSample fits)."""

    channel: int
    voltage_v: float
    current_a: float
    power_w: float


def evaluate_telemetry(db: Session, meter: Meter, device_time: datetime, samples: Sequence[Sample],
                       limits: rules.SupplyLimits = rules.GB_T_12325,
                       policy: rules.Persistence = rules.DEFAULT_PERSISTENCE) -> list[Alarm]:
    """Apply one telemetry message to the meter's alarms; return those opened or closed by it."""
    return evaluate_batch(db, [(meter, device_time, samples)], limits, policy)


class MeterRef(Protocol):
    """What the alarms need of a meter (a Meter row, or the facts a telemetry batch read)."""

    id: int
    point_id: int


@dataclass(frozen=True)
class Supply:
    """What a meter's point can carry: its contracted capacity and each outlet's rated current."""

    capacity_kw: Decimal
    rated_a: dict[int, Decimal]  # by channel
    default_rated_a: Decimal  # the point's, for a channel with no outlet row

    def rated_of(self, channel: int) -> Decimal:
        return self.rated_a.get(channel, self.default_rated_a)


def evaluate_batch(db: Session, messages: Sequence[tuple[MeterRef, datetime, Sequence[Sample]]],
                   limits: rules.SupplyLimits = rules.GB_T_12325,
                   policy: rules.Persistence = rules.DEFAULT_PERSISTENCE,
                   supplies: dict[int, Supply] | None = None) -> list[Alarm]:
    """Apply telemetry messages, each meter's in its order, to their alarms; return those opened or closed.

    One read for the whole batch (its meters' watches), and two of plain columns (points, outlets) for
    the meters not in `supplies` yet, which keeps what they read: a point's capacity and its outlets'
    ratings are fixed when it is approved. A healthy meter has no watch, so it costs no write at all.
    """
    meters = {meter.id: meter for meter, _, _ in messages}
    if not meters:
        return []
    supplies = _supplies(db, meters, {} if supplies is None else supplies)
    watches: dict[int, dict[tuple[AlarmKind, int | None], AlarmWatch]] = {meter_id: {} for meter_id in meters}
    for row in db.exec(select(AlarmWatch).where(one_of(db, col(AlarmWatch.meter_id), meters))):
        watches[row.meter_id][_key(row)] = row
    changed = []
    for meter, device_time, samples in messages:
        supply = supplies[meter.id]
        currents = {s.channel: supply.rated_of(s.channel) for s in samples}
        changed += _evaluate_one(db, meter, as_utc(device_time), samples, supply.capacity_kw, currents,
                                 watches[meter.id], limits, policy)
    return changed


def _supplies(db: Session, meters: dict[int, MeterRef], known: dict[int, Supply]) -> dict[int, Supply]:
    """`known`, with the supplies of `meters` it did not have yet read into it."""
    meters = {meter_id: meter for meter_id, meter in meters.items() if meter_id not in known}
    if not meters:
        return known
    if len(known) > MAX_SUPPLIES_KEPT:
        known.clear()
    points = {row.id: row for row in db.execute(
        select(MeteringPoint.id, MeteringPoint.capacity_kw, MeteringPoint.outlet_rated_current_a).where(
            one_of(db, col(MeteringPoint.id), {m.point_id for m in meters.values()})))}
    rated: dict[int, dict[int, Decimal]] = {meter_id: {} for meter_id in meters}
    for row in db.execute(select(Outlet.meter_id, Outlet.channel, Outlet.rated_current_a).where(
            one_of(db, col(Outlet.meter_id), meters))):
        rated[row.meter_id][row.channel] = row.rated_current_a
    known.update({meter_id: Supply(points[meter.point_id].capacity_kw, rated[meter_id],
                                   points[meter.point_id].outlet_rated_current_a)
                  for meter_id, meter in meters.items()})
    return known


def _evaluate_one(db: Session, meter: MeterRef, at: datetime, samples: Sequence[Sample], capacity_kw: Decimal,
                  rated: dict[int, Decimal], watches: dict[tuple[AlarmKind, int | None], AlarmWatch],
                  limits: rules.SupplyLimits, policy: rules.Persistence) -> list[Alarm]:
    present = {c.key: c for c in rules.conditions_present(
        [OutletMeasure(s.channel, s.voltage_v, s.current_a, s.power_w) for s in samples], rated,
        capacity_kw, limits)}
    changed = []
    for key in sorted(present.keys() | watches.keys(), key=lambda k: (k[0], k[1] or POINT_CHANNEL)):
        row = watches.get(key)
        if row is not None and at <= as_utc(row.last_at):
            continue  # a late or repeated sample: the watch has already moved past it
        kind, channel = key
        watch, transition = rules.step(_state(row), kind, present.get(key), at, policy)
        alarm, row = _apply(db, meter, kind, channel, row, watch, transition, at, present.get(key), limits)
        if row is None:
            watches.pop(key, None)
        else:
            watches[key] = row
        if transition is not None:
            changed.append(alarm)
    return changed


def _key(row: AlarmWatch) -> tuple[AlarmKind, int | None]:
    return AlarmKind(row.kind), None if row.channel == POINT_CHANNEL else row.channel


def supply_lost(db: Session, meter: Meter, at: datetime) -> Alarm | None:
    """The meter reported loss of supply (e.g. a session ended with power_loss): open the alarm now."""
    covered = _outage_covering(db, meter, as_utc(at))
    if covered is not None:
        return covered  # a repeated report of an outage already on record must not open a new one
    row = _watches(db, meter).get((AlarmKind.supply_lost, None))
    watch, transition = rules.force_open(_state(row), as_utc(at))
    return _apply(db, meter, AlarmKind.supply_lost, None, row, watch, transition, as_utc(at), None,
                  rules.GB_T_12325)[0]


def supply_restored(db: Session, meter: Meter, at: datetime) -> Alarm | None:
    """The meter reported the supply back: close the open loss-of-supply alarm (never before it opened)."""
    row = _watches(db, meter).get((AlarmKind.supply_lost, None))
    alarm = db.get(Alarm, row.alarm_id) if row is not None and row.alarm_id else None
    moment = max(as_utc(at), as_utc(alarm.opened_at)) if alarm else as_utc(at)
    watch, transition = rules.force_close(_state(row), moment)
    return _apply(db, meter, AlarmKind.supply_lost, None, row, watch, transition, moment, None, rules.GB_T_12325)[0]


def _outage_covering(db: Session, meter: Meter, at: datetime) -> Alarm | None:
    query = select(Alarm).where(Alarm.meter_id == meter.id, Alarm.kind == AlarmKind.supply_lost,
                                Alarm.opened_at <= at, or_(col(Alarm.closed_at).is_(None), col(Alarm.closed_at) >= at))
    return db.exec(query.limit(1)).first()


def _watches(db: Session, meter: Meter) -> dict[tuple[AlarmKind, int | None], AlarmWatch]:
    return {_key(w): w for w in db.exec(select(AlarmWatch).where(AlarmWatch.meter_id == meter.id))}


def _state(row: AlarmWatch | None) -> Watch:
    if row is None:
        return rules.IDLE
    started = as_utc(row.run_started_at) if row.run_started_at else None
    return Watch(row.alarm_id is not None, row.run, started, row.worst)


def _apply(db: Session, meter: MeterRef, kind: AlarmKind, channel: int | None, row: AlarmWatch | None, watch: Watch,
           transition: Transition | None, at: datetime, condition: Condition | None,
           limits: rules.SupplyLimits) -> tuple[Alarm | None, AlarmWatch | None]:
    """Write the new watch and the alarm it opens, updates or closes; return that alarm and the watch's row."""
    alarm = db.get(Alarm, row.alarm_id) if row is not None and row.alarm_id else None
    if transition is not None and transition.change == Change.opened:
        alarm = _open(db, meter, kind, channel, transition, condition, limits)
    if alarm is not None:
        alarm.worst_value = transition.worst if transition else watch.worst
        if transition is not None and transition.change == Change.closed:
            alarm.closed_at = transition.at
    return alarm, _save_watch(db, meter, kind, channel, row, watch, alarm if watch.is_open else None, at)


def _open(db: Session, meter: MeterRef, kind: AlarmKind, channel: int | None, transition: Transition,
          condition: Condition | None, limits: rules.SupplyLimits) -> Alarm:
    """The open alarm of this kind: ours, or the one another gateway opened a moment before (one per outlet)."""
    limit = condition.limit if condition else limits.dead_v
    alarm = Alarm(point_id=meter.point_id, meter_id=meter.id, channel=channel, kind=kind, opened_at=transition.at,
                  worst_value=transition.worst, limit_value=limit,
                  message=rules.describe(kind, channel, limit, limits))
    if channel is None:
        insert_once(db, alarm, "meter_id", "kind", where=OPEN_POINT_SQL)
        same_place = col(Alarm.channel).is_(None)
    else:
        insert_once(db, alarm, "meter_id", "channel", "kind", where=OPEN_OUTLET_SQL)
        same_place = Alarm.channel == channel
    return db.exec(select(Alarm).where(Alarm.meter_id == meter.id, Alarm.kind == kind, same_place,
                                       col(Alarm.closed_at).is_(None)).with_for_update()).one()


def _save_watch(db: Session, meter: MeterRef, kind: AlarmKind, channel: int | None, row: AlarmWatch | None,
                watch: Watch, alarm: Alarm | None, at: datetime) -> AlarmWatch | None:
    # Idle watches are deleted, so a healthy meter costs no writes.
    if watch.idle:
        if row is not None:
            db.delete(row)
        return None
    if row is None:
        row = _new_watch(db, AlarmWatch(meter_id=meter.id, channel=POINT_CHANNEL if channel is None else channel,
                                        kind=kind, last_at=at))
    row.alarm_id = alarm.id if alarm else None
    row.run, row.run_started_at, row.worst = watch.run, watch.run_started_at, watch.worst
    row.last_at = max(as_utc(row.last_at), at)
    db.flush()
    return row


def _new_watch(db: Session, row: AlarmWatch) -> AlarmWatch:
    """Insert the watch unless another gateway just did; either way return the stored row, locked."""
    insert_once(db, row, "meter_id", "channel", "kind")
    return db.exec(select(AlarmWatch).where(AlarmWatch.meter_id == row.meter_id, AlarmWatch.channel == row.channel,
                                            AlarmWatch.kind == row.kind).with_for_update()).one()


# --- reading alarms ---


def open_alarms(db: Session) -> list[Alarm]:
    query = select(Alarm).where(col(Alarm.closed_at).is_(None)).order_by(col(Alarm.opened_at).desc())
    return list(db.exec(query))


def recent_alarms(db: Session, limit: int = SHOWN_ALARMS) -> list[Alarm]:
    return list(db.exec(select(Alarm).order_by(col(Alarm.opened_at).desc(), col(Alarm.id).desc()).limit(limit)))


def alarms_of_point(db: Session, point_id: int, limit: int = SHOWN_ALARMS) -> list[Alarm]:
    query = (select(Alarm).where(Alarm.point_id == point_id)
             .order_by(col(Alarm.opened_at).desc(), col(Alarm.id).desc()).limit(limit))
    return list(db.exec(query))


# --- outage time and reliability ---


def outage_hours(db: Session, point_id: int, start: datetime, end: datetime, now: datetime | None = None) -> float:
    """Hours the point was without supply inside [start, end); an outage still open counts until now."""
    start, end = _period(start, end)
    return rules.hours(rules.time_within(_outages(db, start, end, point_id), start, end, _now(now)))


def reliability(db: Session, start: datetime, end: datetime, now: datetime | None = None) -> Reliability:
    """Average outage hours per point in service during [start, end), with each point's figure."""
    start, end = _period(start, end)
    outages: dict[int, list] = {}
    for point_id, span in _outages_by_point(db, start, end):
        outages.setdefault(point_id, []).append(span)
    points = _points_in_service(db, start, end, outages.keys())
    per_point = [_point_outage(p, outages.get(p.id, []), start, end, _now(now)) for p in points]
    per_point.sort(key=lambda p: (-p.outage_hours, p.point_id))
    total = sum(p.outage_hours for p in per_point)
    average = total / len(per_point) if per_point else 0.0
    period_hours = rules.hours(end - start)
    return Reliability(start=start, end=end, points=len(per_point), total_outage_hours=round(total, 4),
                       average_outage_hours=round(average, 4),
                       availability=round(1 - average / period_hours, 6), per_point=per_point)


def _period(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidPeriod("start and end must carry a UTC offset, e.g. 2026-11-01T00:00:00+08:00")
    if not (in_service_years(start) and in_service_years(end)):
        raise InvalidPeriod(f"start and end lie within the years {FIRST_YEAR}–{LAST_YEAR}")
    if end <= start:
        raise InvalidPeriod("end must be after start")
    return as_utc(start), as_utc(end)


def _now(now: datetime | None) -> datetime:
    return as_utc(now) if now is not None else utcnow()


def _outage_query(start: datetime, end: datetime):
    return select(Alarm).where(Alarm.kind == AlarmKind.supply_lost, Alarm.opened_at < end,
                               or_(col(Alarm.closed_at).is_(None), col(Alarm.closed_at) > start))


def _outages(db: Session, start: datetime, end: datetime, point_id: int) -> list[tuple[datetime, datetime | None]]:
    return [_span(a) for a in db.exec(_outage_query(start, end).where(Alarm.point_id == point_id))]


def _outages_by_point(db: Session, start: datetime, end: datetime):
    return [(a.point_id, _span(a)) for a in db.exec(_outage_query(start, end))]


def _span(alarm: Alarm) -> tuple[datetime, datetime | None]:
    return as_utc(alarm.opened_at), as_utc(alarm.closed_at) if alarm.closed_at else None


def _points_in_service(db: Session, start: datetime, end: datetime, with_outages) -> list[MeteringPoint]:
    """Points that had a meter and a validity overlapping the period, and any point with an outage in it."""
    served = (select(MeteringPoint).join(Meter, col(Meter.point_id) == MeteringPoint.id)
              .where(col(MeteringPoint.status).in_(IN_SERVICE),
                     MeteringPoint.valid_from <= local(end).date(), MeteringPoint.valid_until >= local(start).date()))
    found = {p.id: p for p in db.exec(served)}
    missing = [i for i in with_outages if i not in found]
    if missing:
        found |= {p.id: p for p in db.exec(select(MeteringPoint).where(col(MeteringPoint.id).in_(missing)))}
    return list(found.values())


def _point_outage(point: MeteringPoint, spans: list, start: datetime, end: datetime, now: datetime) -> PointOutage:
    spent = rules.hours(rules.time_within(spans, start, end, now))
    return PointOutage(point_id=point.id, name=point.name, outages=len(spans), outage_hours=round(spent, 4))
