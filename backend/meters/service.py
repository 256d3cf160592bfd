"""What meters tell us: presence and readings (rejected messages: quarantine.py)."""
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, select

from backend.core.clock import as_utc, local_today, utcnow
from backend.core.errors import NotFound
from backend.meters.models import Reading
from backend.meters.orders import LimitsOrder, queue_order
from backend.meters.register_rules import outlet_rated_power_w
from backend.points.models import Meter, MeteringPoint, Outlet
from backend.points.service import activate_on_first_contact
from backend.sessions.models import SessionStatus, UsageSession
from backend.alarms.service import evaluate_telemetry
from backend.sessions import meter_events, settlement, timeouts
from backend.sessions import service as sessions
from backend.meters.register_rules import Reading as RegisterReading
from backend.sessions.live import record_live_reading

RECONCILE_DEADLINE_SECONDS = 30


class UnknownMeter(NotFound):
    pass


@dataclass(frozen=True)
class OutletSample:
    channel: int
    energy_wh: int
    power_w: float
    voltage_v: float
    current_a: float
    relay_closed: bool
    session_id: int | None


def meter_by_serial(db: Session, serial: str) -> Meter:
    meter = db.exec(select(Meter).where(Meter.serial == serial)).first()
    if meter is None:
        raise UnknownMeter(f"no meter has serial {serial!r}")
    return meter


def set_presence(db: Session, meter: Meter, online: bool, boot_id: str | None) -> None:
    came_back = online and not meter.online
    meter.online = online
    meter.last_seen = utcnow()
    if boot_id:
        meter.boot_id = boot_id
    if came_back:
        # Not on every message: the scheduler activates points whose validity starts while their meter is on.
        activate_on_first_contact(db, meter, local_today())
        db.exec(update(Outlet).where(Outlet.meter_id == meter.id).values(relay_open_ordered_at=None))
        timeouts.resend_stops_after_reconnect(db, meter, RECONCILE_DEADLINE_SECONDS)
        queue_order(db, limits_of(db, meter))


def limits_of(db: Session, meter: Meter) -> LimitsOrder:
    """What the meter must enforce by itself: each outlet's rated power, and the point's contracted capacity."""
    point = db.get(MeteringPoint, meter.point_id)
    outlets = db.exec(select(Outlet).where(Outlet.meter_id == meter.id).order_by(Outlet.channel))
    return LimitsOrder(meter_serial=meter.serial, cmd_id=f"limits-{uuid.uuid4().hex[:16]}",
                       deadline=utcnow() + timedelta(seconds=RECONCILE_DEADLINE_SECONDS),
                       outlet_max_power_w=tuple((o.channel, float(outlet_rated_power_w(o.rated_current_a)))
                                                for o in outlets),
                       max_total_power_w=float(point.capacity_kw * 1000))


def record_telemetry(db: Session, meter: Meter, boot_id: str, seq: int, device_time: datetime,
                     samples: list[OutletSample]) -> int:
    """Store each outlet's reading once per (meter, boot, seq); return how many were new."""
    set_presence(db, meter, True, boot_id)
    open_by_channel = _active_sessions_by_channel(db, meter)
    owners = {s.channel: open_by_channel.get(s.channel) or _settled_session_named(db, meter, s, device_time)
              or _starting_session_named(db, meter, s)
              or _revived_session_named(db, meter, s, RegisterReading(boot_id, seq, device_time, s.energy_wh))
              for s in samples}
    new_channels = _insert_readings(db, meter, boot_id, seq, device_time, samples, owners)
    for sample in samples:
        if sample.channel not in new_channels:
            continue
        if (session := open_by_channel.get(sample.channel)) is not None:
            _reported_for_open_session(db, session, sample, device_time, boot_id, seq)
        elif (late := owners[sample.channel]) is not None and late.status == SessionStatus.completed:
            settlement.reprice_later(late, utcnow())
        elif late is not None:
            continue  # read before its start ack was applied (another gateway instance has it); kept for the bill
        elif sample.relay_closed:
            _closed_without_session(db, meter, sample)
    if new_channels:
        evaluate_telemetry(db, meter, device_time, samples)
    return len(new_channels)


def _reported_for_open_session(db: Session, session: UsageSession, sample: OutletSample, device_time: datetime,
                               boot_id: str, seq: int) -> None:
    """Live figures while the relay is closed; a relay reported open ends a session whose stop never came."""
    if sample.relay_closed or sample.session_id not in (None, session.id):
        record_live_reading(db, session, sample.energy_wh, sample.power_w, device_time, boot_id, seq)
    else:
        meter_events.finish_from_reading(db, session, sample.energy_wh, device_time, boot_id, seq)


def _closed_without_session(db: Session, meter: Meter, sample: OutletSample) -> None:
    """Power flowing that nobody pays for: order the relay open (desired state wins).

    Once per outlet per reconnect (and again only after the order's deadline), not once per
    reading: a meter's backlog may hold hundreds of readings of a relay closed long ago.
    """
    if _starting_on(db, meter, sample.channel):
        return  # the close ack is on its way
    outlet = db.exec(select(Outlet).where(Outlet.meter_id == meter.id, Outlet.channel == sample.channel)).first()
    now = utcnow()
    recent = now - timedelta(seconds=RECONCILE_DEADLINE_SECONDS)
    if outlet is None or (outlet.relay_open_ordered_at is not None and as_utc(outlet.relay_open_ordered_at) > recent):
        return
    named = sample.session_id or getattr(sessions.last_session_on_outlet(db, meter, sample.channel), "id", None)
    if named is not None:
        outlet.relay_open_ordered_at = now
        meter_events.order_relay_open(db, meter, sample.channel, named, RECONCILE_DEADLINE_SECONDS)


def _starting_on(db: Session, meter: Meter, channel: int) -> bool:
    query = select(UsageSession.id).where(UsageSession.meter_id == meter.id, UsageSession.channel == channel,
                                          UsageSession.status == SessionStatus.starting)
    return db.exec(query).first() is not None


def _starting_session_named(db: Session, meter: Meter, sample: OutletSample) -> UsageSession | None:
    """The starting session a reading names: its ack may be on its way through another gateway instance."""
    if sample.session_id is None:
        return None
    session = db.get(UsageSession, sample.session_id)
    ok = (session is not None and session.meter_id == meter.id and session.channel == sample.channel
          and session.status == SessionStatus.starting)
    return session if ok else None


def _revived_session_named(db: Session, meter: Meter, sample: OutletSample,
                           reading: RegisterReading) -> UsageSession | None:
    """A session the platform gave up on whose relay a reading shows closed: the meter did run it."""
    if sample.session_id is None or not sample.relay_closed:
        return None
    session = db.get(UsageSession, sample.session_id)
    if session is None or session.meter_id != meter.id or session.channel != sample.channel:
        return None
    if not meter_events.gave_up_waiting(session):
        return None
    session = sessions.locked_session(db, session.id)
    if not meter_events.gave_up_waiting(session):
        return None
    meter_events.revive(db, session, reading, "its start ack never came; a reading shows its relay closed")
    return session


def _settled_session_named(db: Session, meter: Meter, sample: OutletSample,
                           device_time: datetime) -> UsageSession | None:
    """The completed session a late reading says it belongs to, if it falls inside that session."""
    if sample.session_id is None:
        return None
    session = db.get(UsageSession, sample.session_id)
    if (session is None or session.meter_id != meter.id or session.channel != sample.channel
            or session.status != SessionStatus.completed or session.started_at is None):
        return None
    return session if as_utc(session.started_at) < device_time < as_utc(session.ended_at) else None


def _active_sessions_by_channel(db: Session, meter: Meter) -> dict[int, UsageSession]:
    query = select(UsageSession).where(UsageSession.meter_id == meter.id,
                                       UsageSession.status.in_([SessionStatus.active, SessionStatus.stopping]))
    return {s.channel: s for s in db.exec(query)}


def _insert_readings(db: Session, meter: Meter, boot_id: str, seq: int, device_time: datetime,
                     samples: list[OutletSample], owners: dict[int, UsageSession | None]) -> set[int]:
    """Insert every outlet's reading in one statement; return the channels that were new."""
    received = utcnow()
    rows = [dict(meter_id=meter.id, boot_id=boot_id, seq=seq, channel=s.channel, device_time=device_time,
                 received_at=received, energy_wh=s.energy_wh, power_w=s.power_w, voltage_v=s.voltage_v,
                 current_a=s.current_a, relay_closed=s.relay_closed,
                 session_id=owners[s.channel].id if owners[s.channel] else None) for s in samples]
    insert = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    # RETURNING says which rows are new; rowcount is not reliable across drivers.
    statement = insert(Reading).on_conflict_do_nothing().returning(Reading.channel)
    return set(db.exec(statement, params=rows).scalars())
