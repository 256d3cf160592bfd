"""Telemetry stored by the batch: a few set-based statements for many messages, each meter's in its order.

What each message needs (its meter, the open sessions of its outlets, its alarm watches) is read
once per batch for every meter in it; readings go in with one INSERT … ON CONFLICT DO NOTHING
RETURNING, which says which are new; a session's live figures are written once per batch. The
rare cases (a meter coming back, a relay seen open, a late reading, a relay closed with no
session, a session to revive) go through the same services as single messages.
"""
import time
from collections.abc import Sequence
from decimal import Decimal
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import NamedTuple

from sqlalchemy import event, update
from sqlmodel import Session, col, select

from backend.alarms.service import Supply, evaluate_batch
from backend.core.clock import as_utc, utcnow
from backend.core.membership import one_of
from backend.meters.reading_store import insert_readings
from backend.meters.register_rules import LiveTally, RegisterModel, advance, outlet_rated_power_w
from backend.meters.register_rules import Reading as RegisterReading
from backend.meters.service import MeterMoment, OutletSample, closed_without_session, set_presence
from backend.points.models import Meter, Outlet
from backend.sessions import meter_events, settlement
from backend.sessions import service as sessions
from backend.sessions.live import counts_live, live_figures, live_tally, write_live_figures
from backend.sessions.models import SessionStatus, UsageSession
from backend.tariffs.models import Tariff
from backend.tariffs.service import tariff_engine
from billing.tariffs import Tariff as TariffEngine

RUNNING = (SessionStatus.active, SessionStatus.stopping)
# last_seen is written at most this often per meter while it keeps reporting (it only tells "still there").
LAST_SEEN_EVERY_S = 30


@dataclass(frozen=True)
class TelemetryIn:
    """One telemetry message, as the gateway validated it."""

    serial: str
    boot_id: str
    seq: int
    at: datetime
    samples: tuple[OutletSample, ...]


class LaneMemory:
    """What a telemetry lane keeps between batches: its meters' supplies, and its running sessions' live
    counts, written at most once per `every` seconds.

    The count goes on reading by reading in memory between writes, so a message costs one step of the
    register rules, not a rebuild from the session's row. Memory is trusted only while the row still
    shows what this lane last read or wrote of it (`_seen`): if anyone else wrote it (another gateway, an
    ack counting readings stored earlier), the count starts again from the row. What memory keeps is taken
    only once the batch's transaction has committed. A session's first reason for review is written at once.
    """

    def __init__(self, every_s: float = 1.0):
        self.every_s = every_s
        self.supplies: dict[int, Supply] = {}  # what the lane's meters' points can carry (fixed at approval)
        self._at: dict[int, float] = {}
        self._counted: dict[int, tuple[LiveTally, tuple]] = {}  # session id → (its count, the row it goes on from)

    def due(self, session_id: int, now: float) -> bool:
        return now - self._at.get(session_id, -1e18) >= self.every_s

    def counted(self, session: "RunningSession") -> LiveTally | None:
        """The count in memory, if the session's row is as this lane left it."""
        kept = self._counted.get(session.id)
        return kept[0] if kept is not None and kept[1] == _seen(session) else None

    def keep(self, counts: dict[int, tuple[LiveTally, tuple]], written: list[int], now: float) -> None:
        """After the commit: the batch's counts, and which sessions it wrote."""
        if len(self._at) > 100_000:  # ended sessions: forget what is long past
            self._at = {sid: at for sid, at in self._at.items() if now - at < 10 * self.every_s}
            self._counted = {sid: kept for sid, kept in self._counted.items() if sid in self._at}
        self._counted.update(counts)
        for session_id in written:
            self._at[session_id] = now


def _seen(session: "UsageSession | RunningSession") -> tuple:
    """What a session's row says of its live count: memory goes on from it only while it is unchanged."""
    return (session.status, session.start_boot_id, session.start_seq, session.start_register_wh,
            session.latest_boot_id, session.latest_seq, session.latest_register_wh, session.live_energy_wh,
            session.live_billed_to_wh, session.needs_review)


class MeterFacts(NamedTuple):
    """What a batch reads of a meter: plain values, not an ORM object (a batch reads hundreds)."""

    id: int
    serial: str
    point_id: int
    online: bool
    boot_id: str | None
    last_seen: datetime | None


class OutletFacts(NamedTuple):
    """What a running session's live count needs of its outlet: its rated power and its register's options."""

    rated_power_w: Decimal
    options: dict[str, int]

    @classmethod
    def of(cls, rated_current_a: Decimal, register: RegisterModel) -> "OutletFacts":
        return cls(outlet_rated_power_w(rated_current_a), register.options())


class RunningSession(NamedTuple):
    """What a batch reads of a running session it locks: plain values (a batch locks hundreds), read-only.

    The batch's own writes go through Core (`write_live_figures`); a service that acts on the session
    locks and loads its ORM row itself (`locked_session`).
    """

    id: int
    meter_id: int
    channel: int
    outlet_id: int
    tariff_id: int
    status: SessionStatus
    started_at: datetime | None
    start_register_wh: int | None
    start_boot_id: str | None
    start_seq: int | None
    latest_register_wh: int | None
    latest_reading_at: datetime | None
    latest_boot_id: str | None
    latest_seq: int | None
    latest_power_w: float | None
    live_energy_wh: int | None
    live_billed_to_wh: int | None
    latest_amount: Decimal | None
    needs_review: bool
    review_note: str | None

    @classmethod
    def of(cls, session: UsageSession) -> "RunningSession":
        return cls(*(getattr(session, name) for name in cls._fields))

    def start_moment(self) -> "MeterMoment | None":
        """Where the meter switched the session on (None: not known, so no reading comes before it)."""
        if self.start_register_wh is None:
            return None
        return MeterMoment(self.start_boot_id, self.start_seq, as_utc(self.started_at))


_RUNNING_COLUMNS = [getattr(UsageSession, name) for name in RunningSession._fields]


@dataclass
class BatchResult:
    new_readings: int = 0
    unknown: list[TelemetryIn] = field(default_factory=list)  # their meter does not exist: for the quarantine


def store_telemetry(db: Session, messages: Sequence[TelemetryIn], memory: LaneMemory | None = None) -> BatchResult:
    """Store a batch of telemetry and apply it to sessions, presence and alarms; unknown meters are returned.

    With `memory` (a lane's), a session's live figures are written at most as often as it allows, and what the
    alarms need of each meter's point is read once.
    """
    result = BatchResult()
    messages = list({(m.serial, m.boot_id, m.seq): m for m in reversed(messages)}.values())[::-1]  # first copy wins
    meters = _meters(db, {m.serial for m in messages})
    known = [m for m in messages if m.serial in meters]
    result.unknown = [m for m in messages if m.serial not in meters]
    if not known:
        return result
    _presence(db, meters, known)
    batch = _Batch(db, meters, known, memory)
    new = batch.insert()
    result.new_readings = len(new)
    batch.apply(new)
    evaluate_batch(db, [(meters[m.serial], m.at, m.samples) for m in known
                        if any((meters[m.serial].id, m.boot_id, m.seq, s.channel) in new for s in m.samples)],
                   supplies=memory.supplies if memory is not None else None)
    return result


def _meters(db: Session, serials: set[str]) -> dict[str, MeterFacts]:
    query = select(Meter.id, Meter.serial, Meter.point_id, Meter.online, Meter.boot_id, Meter.last_seen).where(
        one_of(db, col(Meter.serial), serials))
    return {row.serial: MeterFacts(*row) for row in db.execute(query)}


def _meter_row(db: Session, meter: MeterFacts) -> Meter:
    """The ORM row, for the rare paths that go through the services (identity-mapped: one query per batch)."""
    return db.get(Meter, meter.id)


def _presence(db: Session, meters: dict[str, MeterFacts], messages: Sequence[TelemetryIn]) -> None:
    """A meter that comes back (or reboots) goes through set_presence; the others' last_seen only when due."""
    latest = {m.serial: m for m in messages}  # each meter's last message of the batch
    now = utcnow()
    due = []
    for serial, message in latest.items():
        meter = meters[serial]
        if not meter.online or meter.boot_id != message.boot_id:
            set_presence(db, _meter_row(db, meter), True, message.boot_id)
        elif meter.last_seen is None or (now - as_utc(meter.last_seen)).total_seconds() >= LAST_SEEN_EVERY_S:
            due.append(meter.id)
    if due:
        db.exec(update(Meter).where(col(Meter.id).in_(due)).values(last_seen=now))


class _Batch:
    """One batch's readings and what they mean for the sessions of their outlets."""

    def __init__(self, db: Session, meters: dict[str, MeterFacts], messages: Sequence[TelemetryIn],
                 memory: LaneMemory | None):
        self.db, self.meters, self.messages, self.memory = db, meters, messages, memory
        ids = {m.id for m in meters.values()}
        # Held until the batch commits: a stop ack (another lane, gateway or the scheduler) then waits, and its
        # settlement sees every reading this batch stores.
        self.running = {(s.meter_id, s.channel): s for s in (RunningSession(*row) for row in db.execute(
            select(*_RUNNING_COLUMNS).where(one_of(db, col(UsageSession.meter_id), ids),
                                            col(UsageSession.status).in_(RUNNING))
            .order_by(UsageSession.id).with_for_update()))}
        self._starts = {s.id: s.start_moment() for s in self.running.values()}
        named = {s.session_id for m in messages for s in m.samples if s.session_id is not None}
        named -= {s.id for s in self.running.values()}
        self.named = {s.id: s for s in db.exec(select(UsageSession).where(col(UsageSession.id).in_(named)))} \
            if named else {}
        self.owners = {(meters[m.serial].id, m.boot_id, m.seq, s.channel): self._owner(m, s)
                       for m in messages for s in m.samples}
        self.tallies: dict[int, LiveTally] = {}
        self.power: dict[int, float] = {}

    def _owner(self, message: TelemetryIn, sample: OutletSample) -> "RunningSession | UsageSession | None":
        """The session a reading belongs to: the one running on its outlet, else the one it names, if plausible."""
        meter = self.meters[message.serial]
        if (running := self.running.get((meter.id, sample.channel))) is not None:
            return running if not self._before_start(message, running) else None
        session = self.named.get(sample.session_id)
        if session is None or session.meter_id != meter.id or session.channel != sample.channel:
            return None
        if session.status == SessionStatus.starting:
            # Its ack may be on its way (the control lane, another gateway). Holding the row until this batch
            # commits makes that ack wait, and then count this reading; if it came first, the session runs.
            session = sessions.locked_session(self.db, session.id)
        if session.status in RUNNING:  # its ack was applied after this batch read the running sessions
            running = self.running[(meter.id, sample.channel)] = RunningSession.of(session)
            self._starts[running.id] = running.start_moment()
            return running if not self._before_start(message, running) else None
        if session.status == SessionStatus.starting:
            return session  # kept for the bill
        if session.status == SessionStatus.completed and session.started_at is not None:
            # A provisional end is only the last reading the platform had: the meter's later ones are the session's.
            inside = as_utc(session.started_at) < message.at and (session.provisional
                                                                  or message.at < as_utc(session.ended_at))
            return session if inside else None
        if sample.relay_closed and meter_events.gave_up_waiting(session):
            return self._revive(session, message, sample)
        return None

    def _revive(self, session: UsageSession, message: TelemetryIn, sample: OutletSample) -> UsageSession | None:
        session = sessions.locked_session(self.db, session.id)
        if not meter_events.gave_up_waiting(session):
            return session if session.status in RUNNING else None
        meter_events.revive(self.db, session, RegisterReading(message.boot_id, message.seq, message.at,
                                                              sample.energy_wh),
                            "its start ack never came; a reading shows its relay closed")
        return session

    def insert(self) -> set[tuple[int, str, int, int]]:
        """Every reading of the batch in one statement; return the identities of those that were new."""
        received = utcnow()
        rows = [dict(meter_id=meter_id, boot_id=boot_id, seq=seq, channel=channel, device_time=message.at,
                     received_at=received, energy_wh=s.energy_wh, power_w=s.power_w, voltage_v=s.voltage_v,
                     current_a=s.current_a, relay_closed=s.relay_closed,
                     session_id=owner.id if (owner := self.owners[(meter_id, boot_id, seq, channel)]) else None)
                for message in self.messages for s in message.samples
                for meter_id, boot_id, seq, channel in [(self.meters[message.serial].id, message.boot_id,
                                                         message.seq, s.channel)]]
        return insert_readings(self.db, rows)

    def apply(self, new: set[tuple[int, str, int, int]]) -> None:
        """What each new reading means for its outlet's session, in each meter's order; then the live figures."""
        for message in self.messages:
            meter = self.meters[message.serial]
            for sample in message.samples:
                if (meter.id, message.boot_id, message.seq, sample.channel) in new:
                    self._reading(meter, message, sample)
        self._write_live_figures()

    def _reading(self, meter: MeterFacts, message: TelemetryIn, sample: OutletSample) -> None:
        owner = self.owners[(meter.id, message.boot_id, message.seq, sample.channel)]
        running = self.running.get((meter.id, sample.channel))
        if running is not None and self._before_start(message, running):
            return  # taken before the session started (its ack went the faster way): it says nothing about it
        if running is not None:
            if sample.relay_closed or sample.session_id not in (None, running.id):
                self._live(running, message, sample)
            else:
                self._flush_live(running)
                meter_events.finish_from_reading(self.db, running, sample.energy_wh, message.at, message.boot_id,
                                                 message.seq)
                del self.running[(meter.id, sample.channel)]
        elif owner is not None and owner.status == SessionStatus.completed:
            settlement.reprice_later(owner, utcnow())
        elif owner is None and sample.relay_closed:
            closed_without_session(self.db, _meter_row(self.db, meter), sample,
                                   MeterMoment(message.boot_id, message.seq, message.at))

    def _before_start(self, message: TelemetryIn, session: RunningSession) -> bool:
        """Whether the meter took this reading before it switched the session on."""
        start = self._starts[session.id]
        return start is not None and MeterMoment(message.boot_id, message.seq, message.at).before(start)

    def _live(self, session: RunningSession, message: TelemetryIn, sample: OutletSample) -> None:
        """Advance the session's live count in memory; it is written once, at the end of the batch."""
        if not counts_live(session):
            return
        tally = self.tallies.get(session.id) or self._counted_so_far(session)
        outlet = self._outlets.get(session.outlet_id) or self._outlet(session.outlet_id)
        after = advance(tally, RegisterReading(message.boot_id, message.seq, message.at, sample.energy_wh),
                        outlet.rated_power_w, **outlet.options)
        if after is not tally:
            self.tallies[session.id] = after
            self.power[session.id] = sample.power_w

    def _counted_so_far(self, session: RunningSession) -> LiveTally:
        """The lane's count in memory, else the one the session's row stores."""
        counted = self.memory.counted(session) if self.memory is not None else None
        return counted or live_tally(session)

    @cached_property
    def _outlets(self) -> dict[int, OutletFacts]:
        """The outlets of the running sessions (read once, when the first of them counts a reading)."""
        ids = {s.outlet_id for s in self.running.values()}
        query = select(Outlet.id, Outlet.rated_current_a, Outlet.register_step_wh, Outlet.register_rollover_wh).where(
            one_of(self.db, col(Outlet.id), ids))
        return {row.id: OutletFacts.of(row.rated_current_a, RegisterModel(row.register_step_wh,
                                                                         row.register_rollover_wh))
                for row in self.db.execute(query)}

    def _outlet(self, outlet_id: int) -> OutletFacts:
        """An outlet whose session started running after the batch read its outlets (its ack came meanwhile)."""
        outlet = self.db.get(Outlet, outlet_id)
        self._outlets[outlet_id] = OutletFacts.of(outlet.rated_current_a, outlet.register)
        return self._outlets[outlet_id]

    def _flush_live(self, session: RunningSession) -> None:
        """Write one session's pending live figures now (before a service locks and loads its row)."""
        if (tally := self.tallies.pop(session.id, None)) is not None:
            write_live_figures(self.db, {session.id: live_figures(session, tally, self.power[session.id],
                                                                  self._tariff(session.tariff_id))})

    def _tariff(self, tariff_id: int) -> TariffEngine:
        return self._tariffs.get(tariff_id) or self._tariffs.setdefault(
            tariff_id, tariff_engine(self.db.get(Tariff, tariff_id)))

    @cached_property
    def _tariffs(self) -> dict[int, TariffEngine]:
        ids = {s.tariff_id for s in self.running.values()}
        return {t.id: tariff_engine(t) for t in self.db.exec(select(Tariff).where(one_of(self.db, col(Tariff.id),
                                                                                         ids)))}

    def _write_live_figures(self) -> None:
        """Each running session's figures once per batch at most, all in one statement.

        With `memory`, a session written less than a second ago is not written; its count stays in the
        lane's memory (from the commit on) and goes on with the next batch.
        """
        now, counts, figures = time.monotonic(), {}, {}
        for session in list(self.running.values()):
            tally = self.tallies.pop(session.id, None)
            if tally is None:
                continue
            new_review = bool(tally.review) and not session.needs_review
            if self.memory is None or new_review or self.memory.due(session.id, now):
                figures[session.id] = live_figures(session, tally, self.power[session.id],
                                                   self._tariff(session.tariff_id))
            counts[session.id] = (tally, session)
        write_live_figures(self.db, figures)
        if self.memory is not None and counts:
            seen = {sid: (tally, _seen(session._replace(**figures[sid]) if sid in figures else session))
                    for sid, (tally, session) in counts.items()}
            keep = self.memory.keep
            event.listen(self.db, "after_commit", lambda _db: keep(seen, list(figures), now), once=True)


def record_telemetry(db: Session, meter: Meter, boot_id: str, seq: int, device_time: datetime,
                     samples: list[OutletSample]) -> int:
    """Store one message's readings once per (meter, boot, seq); return how many were new (a batch of one)."""
    return store_telemetry(db, [TelemetryIn(meter.serial, boot_id, seq, device_time, tuple(samples))]).new_readings
