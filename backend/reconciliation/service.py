"""Conservation per metering point and period, its monthly statement, and billing unattributed energy.

For a point and [start, end): register delta = settled session energy + unattributed energy + gap, where
a gap is always explained (a session still open, or a session whose readings disagree with its settlement).
docs/reconciliation.md states the rule and the edge rule with a worked example.
"""
import heapq
import logging
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, or_
from sqlmodel import Session, select

from backend.audit.service import record
from backend.core.clock import FIRST_YEAR, LAST_YEAR, LOCAL_TZ, as_utc, in_service_years, local, utcnow
from backend.core.errors import Conflict, ScanPowerError
from backend.meters.models import Reading as MeterReading
from backend.meters.register_rules import outlet_rated_power_w
from backend.points import service as points
from backend.points import water
from backend.points.models import MeteringPoint, Outlet
from backend.reconciliation.outlet_marks import pricer, quiet_days, reading_marks
from backend.reconciliation.period_energy import PeriodEnergy
from backend.reconciliation.timeline import Mark, MarkKind, StepAnomaly, tally, walk
from backend.sessions.models import SessionStatus, UsageSession
from backend.tariffs.service import get_tariff, tariff_engine
from billing.ledger import service as ledger
from billing.ledger.models import JournalEntry, Posting
from billing.tariffs import BilledLine, NoTariffInEffect, bill_total

log = logging.getLogger(__name__)

MAX_PERIOD = timedelta(days=366)
ZERO = Decimal("0.00")
BILL_KIND = "unattributed"
_KEY_TIME = "%Y%m%dT%H%M%SZ"
_MEASURED = [SessionStatus.active, SessionStatus.stopping, SessionStatus.completed]


class InvalidPeriod(ScanPowerError):
    status_code = 422


class PointHasNoTariff(Conflict):
    pass


class TariffNotInEffect(Conflict):
    pass


class PeriodNotOver(Conflict):
    pass


class EnergyClaimedBySession(Conflict):
    pass


class OverlapsBilledPeriod(Conflict):
    pass


@dataclass(frozen=True)
class Period:
    """[start, end) as aware UTC instants."""

    start: datetime
    end: datetime


def period_of(start: datetime, end: datetime) -> Period:
    """A period from two instants; naive ones are Asia/Shanghai wall-clock times."""
    if not (in_service_years(start) and in_service_years(end)):
        raise InvalidPeriod(f"a period lies within the years {FIRST_YEAR}–{LAST_YEAR}")
    start, end = _aware(start), _aware(end)
    if end <= start:
        raise InvalidPeriod(f"the period must end after it starts ({start.isoformat()} – {end.isoformat()})")
    if end - start > MAX_PERIOD:
        raise InvalidPeriod(f"a period can be at most {MAX_PERIOD.days} days long")
    return Period(start, end)


def month_period(month: str) -> Period:
    """The local calendar month "YYYY-MM" in Asia/Shanghai."""
    try:
        first = date.fromisoformat(f"{month}-01")
    except ValueError:
        raise InvalidPeriod(f"expected a month as YYYY-MM, got {month!r}") from None
    if not in_service_years(first):
        raise InvalidPeriod(f"a month lies within the years {FIRST_YEAR}–{LAST_YEAR}, not {month!r}")
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return period_of(_local_midnight(first), _local_midnight(following))


def _local_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=LOCAL_TZ)


def _aware(moment: datetime) -> datetime:
    local = moment.replace(tzinfo=LOCAL_TZ) if moment.tzinfo is None else moment
    return local.astimezone(UTC)


@dataclass(frozen=True)
class SessionCheck:
    """One session counted in the period: what its readings show against what it was settled for."""

    session_id: int
    outlet_id: int
    channel: int
    vendor_id: int
    status: SessionStatus
    started_at: datetime
    ended_at: datetime | None
    measured_wh: int
    settled_wh: int | None  # None while open
    amount: Decimal | None
    anomalies: tuple[str, ...] = ()

    @property
    def gap_wh(self) -> int:
        return self.measured_wh - (self.settled_wh or 0)

    @property
    def has_gap(self) -> bool:
        return self.settled_wh is None or self.gap_wh != 0

    @property
    def reason(self) -> str:
        if self.settled_wh is None:
            return (f"session {self.session_id} is still {self.status.value}: {self.measured_wh} Wh measured so "
                    f"far, counted in the period it ends in")
        if not self.gap_wh:
            return ""
        why = f"; {'; '.join(self.anomalies)}" if self.anomalies else ""
        return (f"session {self.session_id} was settled for {self.settled_wh} Wh but its readings add up to "
                f"{self.measured_wh} Wh{why}")


@dataclass(frozen=True)
class OutletReconciliation:
    outlet_id: int
    channel: int
    register_delta_wh: int
    attributed_wh: int
    unattributed_wh: int
    sessions: tuple[SessionCheck, ...]
    anomalies: tuple[StepAnomaly, ...]

    @property
    def settled_wh(self) -> int:
        return sum(s.settled_wh or 0 for s in self.sessions)

    @property
    def gap_wh(self) -> int:
        return self.register_delta_wh - self.settled_wh - self.unattributed_wh


@dataclass(frozen=True)
class PointReconciliation:
    """register_delta_wh = session_energy_wh + unattributed_wh + gap_wh, per outlet and in total."""

    point_id: int
    start: datetime
    end: datetime
    outlets: tuple[OutletReconciliation, ...]
    unattributed_lines: tuple[BilledLine, ...]

    @property
    def register_delta_wh(self) -> int:
        return sum(o.register_delta_wh for o in self.outlets)

    @property
    def session_energy_wh(self) -> int:
        """Settled energy of the sessions that ended in the period."""
        return sum(o.settled_wh for o in self.outlets)

    @property
    def attributed_wh(self) -> int:
        return sum(o.attributed_wh for o in self.outlets)

    @property
    def unattributed_wh(self) -> int:
        return sum(o.unattributed_wh for o in self.outlets)

    @property
    def gap_wh(self) -> int:
        return self.register_delta_wh - self.session_energy_wh - self.unattributed_wh

    @property
    def sessions(self) -> list[SessionCheck]:
        return sorted((s for o in self.outlets for s in o.sessions), key=lambda s: (s.started_at, s.session_id))

    @property
    def settled_sessions(self) -> list[SessionCheck]:
        return [s for s in self.sessions if s.settled_wh is not None]

    @property
    def gaps(self) -> list[SessionCheck]:
        return [s for s in self.sessions if s.has_gap]

    @property
    def anomalies(self) -> list[tuple[int, StepAnomaly]]:
        """(channel, anomaly) in time order."""
        return sorted(((o.channel, a) for o in self.outlets for a in o.anomalies), key=lambda ca: ca[1].at)

    @property
    def balanced(self) -> bool:
        return not self.gaps

    @property
    def collected(self) -> Decimal:
        """Money settled for the sessions that ended in the period (energy and service fees)."""
        return sum((s.amount for s in self.settled_sessions), ZERO)

    @property
    def unattributed_amount(self) -> Decimal:
        return bill_total(self.unattributed_lines)


def reconcile(db: Session, point_id: int, start: datetime, end: datetime) -> PointReconciliation:
    """Every Wh of the point's outlets in [start, end), each in a session or unattributed; gaps explained."""
    point = points.get_point(db, point_id)
    period = period_of(start, end)
    pricing = PeriodEnergy(tariff_engine(get_tariff(db, point.tariff_id))) if point.tariff_id else None
    try:
        outlets = tuple(_reconcile_outlet(db, o, period, pricing) for o in points.outlets_of_point(db, point_id))
    except NoTariffInEffect as exc:
        raise TariffNotInEffect(f"cannot price unattributed energy: {exc}") from None
    lines = tuple(pricing.lines()) if pricing else ()
    return PointReconciliation(point.id, period.start, period.end, outlets, lines)


def _reconcile_outlet(db: Session, outlet: Outlet, period: Period,
                      pricing: PeriodEnergy | None) -> OutletReconciliation:
    sessions = _sessions_touching(db, outlet, period)
    here = {s.id: s for s in sessions if _counts_in(s, period)}
    # Readings from the start of the earliest session settled in the period, so it is judged whole.
    since = min([period.start, *(as_utc(s.started_at) for s in here.values() if s.ended_at is not None)])
    before = _marks_before(db, outlet, since)
    quiet = quiet_days(db, outlet, period.start, period.end, sessions, pricing)
    marks = heapq.merge(before, _session_marks(sessions, period), reading_marks(db, outlet, since, period.end, quiet),
                        key=Mark.order)
    events = walk(marks, outlet_rated_power_w(outlet.rated_current_a), outlet.register)
    add = pricer(pricing, quiet) if pricing else None
    counted = tally(events, period.start, period.end, here.keys(), add)
    owners = {s: [a.reason for a in counted.anomalies if a.owner == s] for s in here}
    checks = tuple(_check(s, outlet, counted.by_session.get(s.id, 0), owners[s.id]) for s in here.values())
    return OutletReconciliation(outlet.id, outlet.channel, counted.register_delta_wh, counted.attributed_wh,
                                counted.unattributed_wh, checks, tuple(counted.anomalies))


def _counts_in(session: UsageSession, period: Period) -> bool:
    """A session belongs to the period it ended in; a session still open shows in every period it reaches."""
    if session.status != SessionStatus.completed:
        return True
    return period.start <= as_utc(session.ended_at) < period.end


def _sessions_touching(db: Session, outlet: Outlet, period: Period) -> list[UsageSession]:
    query = (select(UsageSession)
             .where(UsageSession.outlet_id == outlet.id, UsageSession.status.in_(_MEASURED),
                    UsageSession.start_register_wh.is_not(None), UsageSession.started_at < period.end,
                    or_(UsageSession.ended_at.is_(None), UsageSession.ended_at >= period.start))
             .order_by(UsageSession.started_at, UsageSession.id))
    return list(db.exec(query))


def _session_marks(sessions: list[UsageSession], period: Period) -> list[Mark]:
    marks = [Mark(as_utc(s.started_at), s.start_register_wh, s.start_boot_id, MarkKind.START, s.id)
             for s in sessions]
    marks += [Mark(as_utc(s.ended_at), s.stop_register_wh, s.stop_boot_id, MarkKind.STOP, s.id)
              for s in sessions
              if s.status == SessionStatus.completed and s.stop_register_wh is not None
              and as_utc(s.ended_at) < period.end]
    return sorted(marks, key=Mark.order)


def _marks_before(db: Session, outlet: Outlet, since: datetime) -> list[Mark]:
    """The last reading and the last session stop before `since`: where the first step of the period begins."""
    # The latest time first, alone: it walks the (meter, outlet, time) index backwards, one row per partition,
    # where ordering by time, register and id at once would sort every earlier reading of the outlet.
    latest = (select(func.max(MeterReading.device_time))
              .where(MeterReading.meter_id == outlet.meter_id, MeterReading.channel == outlet.channel,
                     MeterReading.device_time < since).scalar_subquery())
    reading = db.exec(_readings(outlet).where(MeterReading.device_time == latest)
                      .order_by(MeterReading.energy_wh.desc(), MeterReading.id.desc()).limit(1)).first()
    stop = db.exec(select(UsageSession)
                   .where(UsageSession.outlet_id == outlet.id, UsageSession.status == SessionStatus.completed,
                          UsageSession.ended_at < since)
                   .order_by(UsageSession.ended_at.desc()).limit(1)).first()
    marks = [Mark(as_utc(reading[0]), reading[1], reading[2])] if reading else []
    if stop is not None and stop.stop_register_wh is not None:
        marks.append(Mark(as_utc(stop.ended_at), stop.stop_register_wh, stop.stop_boot_id, MarkKind.STOP, stop.id))
    return sorted(marks, key=Mark.order)


def _readings(outlet: Outlet):
    return select(MeterReading.device_time, MeterReading.energy_wh, MeterReading.boot_id).where(
        MeterReading.meter_id == outlet.meter_id, MeterReading.channel == outlet.channel)


def _check(session: UsageSession, outlet: Outlet, measured_wh: int, anomalies: list[str]) -> SessionCheck:
    settled = session.status == SessionStatus.completed
    return SessionCheck(session.id, outlet.id, outlet.channel, session.vendor_id, session.status,
                        as_utc(session.started_at), as_utc(session.ended_at) if session.ended_at else None,
                        measured_wh, session.energy_wh if settled else None,
                        session.amount if settled else None, tuple(anomalies))


# Billing unattributed energy to the applicant.

@dataclass(frozen=True)
class UnattributedBill:
    """The journal entry that billed a period's unattributed energy; `new` is False when it existed already."""

    point_id: int
    start: datetime
    end: datetime
    idempotency_key: str
    entry_id: int
    amount: Decimal
    memo: str
    billed_at: datetime
    new: bool


def bill_key(point_id: int, start: datetime, end: datetime) -> str:
    return f"{BILL_KIND}:{point_id}:{_aware(start):{_KEY_TIME}}:{_aware(end):{_KEY_TIME}}"


def bill_unattributed(db: Session, point_id: int, start: datetime, end: datetime,
                      now: datetime | None = None, actor=None) -> UnattributedBill:
    """Post the period's unattributed energy, priced by the point's tariff, from the applicant to revenue; once."""
    point = points.get_point(db, point_id)
    period = period_of(start, end)
    key = bill_key(point.id, period.start, period.end)
    existing = _entry(db, key)
    if existing is not None:
        return _bill(point.id, period, existing, db, new=False)
    _refuse_to_bill(db, point, period, now or utcnow())
    result = reconcile(db, point.id, period.start, period.end)
    entry = _post(db, point, key, result)
    bill = _bill(point.id, period, entry, db, new=True)
    record(db, actor, "point.bill_unattributed", "point", point.id, None,
           {"start": str(period.start), "end": str(period.end), "amount": str(bill.amount)})
    return bill


def _refuse_to_bill(db: Session, point: MeteringPoint, period: Period, now: datetime) -> None:
    if point.tariff_id is None:
        raise PointHasNoTariff(f"metering point {point.id} has no tariff yet")
    if period.end > now:
        raise PeriodNotOver(f"the period runs until {period.end.astimezone(LOCAL_TZ):%Y-%m-%d %H:%M}; "
                            f"bill it once it is over")
    if (claim := _session_claiming_energy(db, point.id, period)) is not None:
        raise EnergyClaimedBySession(
            f"session {claim.id}'s meter reports it ran (stop register {claim.stop_register_wh} Wh) but nothing "
            f"proves where it started; an operator reviews it before the period's unattributed energy is billed")
    for other_start, other_end in billed_periods(db, point.id):
        if other_start < period.end and period.start < other_end:
            raise OverlapsBilledPeriod(
                f"unattributed energy of {other_start.astimezone(LOCAL_TZ):%Y-%m-%d %H:%M} – "
                f"{other_end.astimezone(LOCAL_TZ):%Y-%m-%d %H:%M} is billed already; billing an overlapping "
                f"period would bill it twice")


def _session_claiming_energy(db: Session, point_id: int, period: Period) -> UsageSession | None:
    """A session given up on whose meter later reported a stop register: its energy is not the applicant's."""
    return db.exec(select(UsageSession).where(
        UsageSession.point_id == point_id, UsageSession.status == SessionStatus.failed,
        UsageSession.needs_review.is_(True), UsageSession.stop_register_wh.is_not(None),
        UsageSession.requested_at < period.end, UsageSession.ended_at >= period.start).limit(1)).first()


def billed_periods(db: Session, point_id: int) -> list[tuple[datetime, datetime]]:
    """The periods whose unattributed energy was billed for this point."""
    prefix = f"{BILL_KIND}:{point_id}:"
    query = select(JournalEntry.idempotency_key).where(JournalEntry.kind == BILL_KIND,
                                                       JournalEntry.idempotency_key.startswith(prefix))
    periods = []
    for key in db.exec(query):
        start, end = key.removeprefix(prefix).split(":")
        periods.append((_key_time(start), _key_time(end)))
    return sorted(periods)


def _key_time(text: str) -> datetime:
    return datetime.strptime(text, _KEY_TIME).replace(tzinfo=UTC)


def _post(db: Session, point: MeteringPoint, key: str, result: PointReconciliation) -> JournalEntry:
    applicant = ledger.account(db, f"applicant:{point.applicant_id}", "applicant_account", point.applicant_id)
    revenue = ledger.account(db, ledger.REVENUE, "revenue")
    local_start = result.start.astimezone(LOCAL_TZ)
    memo = (f"point {point.id}: {result.unattributed_wh} Wh unattributed, "
            f"{local_start:%Y-%m-%d %H:%M} – {result.end.astimezone(LOCAL_TZ):%Y-%m-%d %H:%M}")
    # A concurrent bill of the same period gets the entry the first one wrote (ledger keys are written once).
    return ledger.transfer(db, key, BILL_KIND, applicant, revenue, result.unattributed_amount, memo)


def unattributed_bill(db: Session, point_id: int, start: datetime, end: datetime) -> UnattributedBill | None:
    """The bill of exactly this period, if there is one."""
    period = period_of(start, end)
    entry = _entry(db, bill_key(point_id, period.start, period.end))
    return None if entry is None else _bill(point_id, period, entry, db, new=False)


def _entry(db: Session, key: str) -> JournalEntry | None:
    return db.exec(select(JournalEntry).where(JournalEntry.idempotency_key == key)).first()


def _bill(point_id: int, period: Period, entry: JournalEntry, db: Session, new: bool) -> UnattributedBill:
    credited = db.exec(select(Posting.amount).where(Posting.entry_id == entry.id, Posting.amount > 0)).all()
    return UnattributedBill(point_id, period.start, period.end, entry.idempotency_key, entry.id,
                            sum(credited, ZERO), entry.memo, as_utc(entry.created_at), new)


# The monthly statement.

@dataclass(frozen=True)
class Statement:
    point: MeteringPoint
    month: str
    reconciliation: PointReconciliation
    bill: UnattributedBill | None
    session_water_m3: Decimal | None = None  # 以电折水, for irrigation wells with a coefficient
    unattributed_water_m3: Decimal | None = None


def statement(db: Session, point: MeteringPoint, month: str) -> Statement:
    """Sessions, energy, money collected and unattributed energy of one point in one local month."""
    period = month_period(month)
    result = reconcile(db, point.id, period.start, period.end)
    found = Statement(point, month, result, unattributed_bill(db, point.id, period.start, period.end))
    coefficients = water.coefficients(db, point.id)
    if not coefficients:
        return found
    per_session = [water.water_m3(s.settled_wh, water.coefficient_on(coefficients, local(s.ended_at).date()) or 0)
                   for s in result.settled_sessions]
    month_end = water.coefficient_on(coefficients, local(period.end - timedelta(seconds=1)).date())
    return replace(found, session_water_m3=sum(per_session, Decimal("0.00")),
                   unattributed_water_m3=None if month_end is None else water.water_m3(result.unattributed_wh,
                                                                                       month_end))
