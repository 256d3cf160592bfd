"""What meters tell us: presence, their limits, relays closed with no session.

Telemetry is stored in ingest.py; rejected messages are counted in quarantine.py.
"""
import uuid
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from sqlalchemy import update
from sqlmodel import Session, select

from backend.alarms import offline
from backend.core.clock import as_utc, local_today, utcnow
from backend.core.errors import NotFound
from backend.meters.orders import LimitsOrder, queue_order
from backend.meters.register_rules import outlet_rated_power_w
from backend.points.models import Meter, MeteringPoint, Outlet
from backend.points.service import activate_on_first_contact
from backend.sessions.models import SessionStatus, UsageSession
from backend.sessions import meter_events, timeouts
from backend.sessions import service as sessions

RECONCILE_DEADLINE_SECONDS = 30


class UnknownMeter(NotFound):
    pass


class OutletSample(NamedTuple):
    """One outlet's figures in a telemetry message (a tuple: four are made per message)."""

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
        offline.meter_back(db, meter, meter.last_seen)
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


class MeterMoment(NamedTuple):
    """Where a message stands in its meter's own order: by sequence within a boot, else by its clock.

    A tuple, cheap to make: ingest builds one per reading.
    """

    boot_id: str | None
    seq: int | None
    at: datetime

    def before(self, other: "MeterMoment") -> bool:
        if self.boot_id is not None and self.boot_id == other.boot_id and None not in (self.seq, other.seq):
            return self.seq < other.seq
        return self.at < other.at


def closed_without_session(db: Session, meter: Meter, sample: OutletSample, taken: MeterMoment) -> None:
    """Power flowing that nobody pays for: order the relay open (desired state wins).

    Once per outlet per reconnect (and again only after the order's deadline), not once per
    reading: a meter's backlog may hold hundreds of readings of a relay closed long ago. A
    reading the meter took before the outlet's last session ended is old news and orders nothing:
    with acks and telemetry in separate lanes (or gateways) it may be applied after that end.
    """
    if _starting_on(db, meter, sample.channel):
        return  # the close ack is on its way
    last = sessions.last_session_on_outlet(db, meter, sample.channel)
    if last is not None and taken.before(_session_end(last)):
        return
    outlet = db.exec(select(Outlet).where(Outlet.meter_id == meter.id, Outlet.channel == sample.channel)).first()
    now = utcnow()
    recent = now - timedelta(seconds=RECONCILE_DEADLINE_SECONDS)
    if outlet is None or (outlet.relay_open_ordered_at is not None and as_utc(outlet.relay_open_ordered_at) > recent):
        return
    named = sample.session_id or getattr(last, "id", None)
    if named is not None:
        outlet.relay_open_ordered_at = now
        meter_events.order_relay_open(db, meter, sample.channel, named, RECONCILE_DEADLINE_SECONDS)


def _session_end(session: UsageSession) -> MeterMoment:
    """When the meter switched the session off; a session still open has not ended (the far future)."""
    if session.ended_at is None or session.status.is_open:
        return MeterMoment(None, None, datetime.max.replace(tzinfo=UTC))
    return MeterMoment(session.stop_boot_id, session.stop_seq, as_utc(session.ended_at))


def _starting_on(db: Session, meter: Meter, channel: int) -> bool:
    query = select(UsageSession.id).where(UsageSession.meter_id == meter.id, UsageSession.channel == channel,
                                          UsageSession.status == SessionStatus.starting)
    return db.exec(query).first() is not None


