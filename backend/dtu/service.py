"""Commissioning DL/T 645 meters behind a DTU: link a point's meter to its bus and each outlet to a meter address."""
import secrets

from sqlmodel import Session, col, delete, select

from backend.audit.service import record
from backend.broker_accounts import service as broker_accounts
from backend.core.errors import Conflict, NotFound, ScanPowerError
from backend.dtu.models import Dlt645Channel, DtuCommission, DtuLink
from backend.meters.register_rules import DLT645_REGISTER, WHOLE_WH
from backend.points import service as points
from backend.points.models import Meter, Outlet
from backend.sessions.models import OPEN_STATUSES, UsageSession
from backend.users.models import User


class NoDtuLink(NotFound):
    pass


class DtuTaken(Conflict):
    pass


class MeterInUse(Conflict):
    pass


class NoSuchOutlet(ScanPowerError):
    status_code = 422


def commission(db: Session, point_id: int, body: DtuCommission, actor: User | None) -> DtuLink:
    """Link the point's meter to a DTU and its outlets to DL/T 645 addresses; a repeat replaces the mapping."""
    meter = _meter_of(db, point_id)
    _refuse_taken(db, meter, body.dtu_id)
    _refuse_while_serving(db, meter)
    outlets = {o.channel: o for o in points.outlets_of_point(db, point_id)}
    if missing := sorted({c.channel for c in body.channels} - outlets.keys()):
        raise NoSuchOutlet(f"the point has outlets {sorted(outlets)}; no outlet {missing}")
    link = link_of_meter(db, meter.id)
    before = describe(db, link) if link else None
    if link is None:
        link = DtuLink(meter_id=meter.id, dtu_id=body.dtu_id, mqtt_password=secrets.token_urlsafe(24))
    elif link.dtu_id != body.dtu_id:
        broker_accounts.note_dtu(db, link.dtu_id)  # the DTU it replaces loses its account
    link.dtu_id = body.dtu_id
    broker_accounts.note_dtu(db, body.dtu_id)
    db.add(link)
    db.exec(delete(Dlt645Channel).where(col(Dlt645Channel.meter_id) == meter.id))
    db.flush()
    for c in body.channels:
        db.add(Dlt645Channel(meter_id=meter.id, channel=c.channel, address=c.address, password=c.password,
                             operator_code=c.operator_code))
    for channel, outlet in outlets.items():
        _set_register(outlet, channel in {c.channel for c in body.channels})
    db.flush()
    record(db, actor, "meter.dtu_commissioned", "meter", meter.id, before, describe(db, link))
    return link


def _set_register(outlet: Outlet, dlt645: bool) -> None:
    register = DLT645_REGISTER if dlt645 else WHOLE_WH
    outlet.register_step_wh, outlet.register_rollover_wh = register.step_wh, register.rollover_wh


def _meter_of(db: Session, point_id: int) -> Meter:
    meter = points.meter_of_point(db, point_id)
    if meter is None:
        raise NoDtuLink(f"metering point {point_id} has no meter yet (approve it first)")
    return meter


def _refuse_taken(db: Session, meter: Meter, dtu_id: str) -> None:
    other = db.exec(select(DtuLink).where(DtuLink.dtu_id == dtu_id, DtuLink.meter_id != meter.id)).first()
    if other is not None:
        raise DtuTaken(f"DTU {dtu_id} already serves another meter")
    if db.exec(select(Meter.id).where(Meter.serial == dtu_id)).first() is not None:
        raise DtuTaken(f"{dtu_id} is a meter's serial; a DTU needs a name of its own (it is its MQTT user name)")


def _refuse_while_serving(db: Session, meter: Meter) -> None:
    running = select(UsageSession.id).where(UsageSession.meter_id == meter.id,
                                            col(UsageSession.status).in_(OPEN_STATUSES))
    if db.exec(running).first() is not None:
        raise MeterInUse("a session is open on this meter; stop it before changing its DTU")


def link_of_meter(db: Session, meter_id: int) -> DtuLink | None:
    return db.exec(select(DtuLink).where(DtuLink.meter_id == meter_id)).first()


def link_of_point(db: Session, point_id: int) -> DtuLink:
    link = link_of_meter(db, _meter_of(db, point_id).id)
    if link is None:
        raise NoDtuLink(f"the meter of point {point_id} is not behind a DTU")
    return link


def channels_of(db: Session, meter_id: int) -> list[Dlt645Channel]:
    return list(db.exec(select(Dlt645Channel).where(Dlt645Channel.meter_id == meter_id)
                        .order_by(Dlt645Channel.channel)))


def all_links(db: Session) -> list[tuple[DtuLink, Meter, list[Dlt645Channel]]]:
    """Every commissioned DTU with its meter and channels (what the bridge serves)."""
    rows = db.exec(select(DtuLink, Meter).join(Meter, col(Meter.id) == DtuLink.meter_id).order_by(DtuLink.id))
    return [(link, meter, channels_of(db, meter.id)) for link, meter in rows]


def dtus_for_broker(db: Session) -> list[tuple[str, str]]:
    """(DTU id, MQTT password) of every DTU, the id being its MQTT user name."""
    return [(dtu_id, password) for dtu_id, password in
            db.exec(select(DtuLink.dtu_id, DtuLink.mqtt_password).order_by(DtuLink.dtu_id))]


def describe(db: Session, link: DtuLink) -> dict:
    """The mapping as the audit log keeps it: no secrets."""
    return {"dtu_id": link.dtu_id,
            "channels": {str(c.channel): {"address": c.address, "password_level": c.password[:2]}
                         for c in channels_of(db, link.meter_id)}}
