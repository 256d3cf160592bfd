import secrets
from datetime import date

from sqlmodel import Session, select

from backend.audit.service import record, snapshot
from backend.broker_accounts import service as broker_accounts
from backend.core.clock import local_today, utcnow
from backend.core.errors import Conflict, Forbidden, NotFound, ScanPowerError
from backend.points.labels import new_qr_token
from backend.points.models import Meter, MeteringPoint, Outlet, PointApply, PointStatus
from backend.points.rules import has_expired, refusal_to_apply
from backend.tariffs.service import get_tariff, in_effect, starts_at
from backend.users.models import Role, User


class PointNotFound(NotFound):
    pass


class OutletNotFound(NotFound):
    pass


class MeterNotFound(NotFound):
    pass


class PointNotPending(Conflict):
    pass


class TariffNotYetInEffect(Conflict):
    """A tariff that prices nothing yet: a point approved with it could not bill its sessions."""


class NotAnApplicant(Forbidden):
    pass


class ValidityInThePast(ScanPowerError):
    status_code = 422


def apply_for_point(db: Session, applicant: User, body: PointApply) -> MeteringPoint:
    if applicant.role != Role.applicant:
        raise NotAnApplicant("only applicants can apply for a metering point")
    refusal = refusal_to_apply(body.valid_until, local_today())
    if refusal:
        raise ValidityInThePast(refusal)
    point = MeteringPoint.model_validate(body, update={"applicant_id": applicant.id})
    db.add(point)
    db.flush()
    return point


def get_point(db: Session, point_id: int) -> MeteringPoint:
    point = db.get(MeteringPoint, point_id)
    if point is None:
        raise PointNotFound(f"metering point {point_id} does not exist")
    return point


def visible_point(db: Session, user: User, point_id: int) -> MeteringPoint:
    """The point if this user may see it; others' points look like missing ones."""
    point = get_point(db, point_id)
    if user.role == Role.operator or point.applicant_id == user.id:
        return point
    raise PointNotFound(f"metering point {point_id} does not exist")


def list_points(db: Session, user: User) -> list[MeteringPoint]:
    query = select(MeteringPoint).order_by(MeteringPoint.id)
    if user.role != Role.operator:
        query = query.where(MeteringPoint.applicant_id == user.id)
    return list(db.exec(query))


POINT_AUDIT = ("status", "status_note", "tariff_id")


def approve_point(db: Session, point_id: int, tariff_id: int, actor: User | None = None) -> MeteringPoint:
    """Approve an application: assign the tariff, provision the meter and its outlets."""
    point = get_point(db, point_id)
    before = snapshot(point, POINT_AUDIT)
    if point.status != PointStatus.submitted:
        raise PointNotPending(f"metering point {point_id} is {point.status.value}, not submitted")
    refusal = refusal_to_apply(point.valid_until, local_today())
    if refusal:
        raise PointNotPending(f"cannot approve metering point {point_id}: {refusal}")
    tariff = get_tariff(db, tariff_id)
    if not in_effect(tariff):
        raise TariffNotYetInEffect(f"tariff {tariff.code!r} takes effect at {starts_at(tariff):%Y-%m-%d %H:%M} UTC; "
                                   "approve with a tariff in effect today")
    point.tariff_id = tariff.id
    point.status = PointStatus.approved
    point.approved_at = utcnow()
    meter = provision_meter(db, point)
    for channel in range(1, point.outlet_count + 1):
        db.add(Outlet(meter_id=meter.id, point_id=point.id, channel=channel,
                      rated_current_a=point.outlet_rated_current_a, qr_token=new_qr_token()))
    db.flush()
    record(db, actor, "point.approve", "point", point.id, before, snapshot(point, POINT_AUDIT))
    return point


def provision_meter(db: Session, point: MeteringPoint) -> Meter:
    serial = f"SP{point.id:08d}"
    meter = Meter(point_id=point.id, serial=serial, mqtt_username=serial,
                  mqtt_password=secrets.token_urlsafe(24))
    db.add(meter)
    db.flush()
    broker_accounts.note_meter(db, serial)
    return meter


def reject_point(db: Session, point_id: int, reason: str, actor: User | None = None) -> MeteringPoint:
    point = get_point(db, point_id)
    if point.status != PointStatus.submitted:
        raise PointNotPending(f"metering point {point_id} is {point.status.value}, not submitted")
    before = snapshot(point, POINT_AUDIT)
    point.status = PointStatus.rejected
    point.status_note = reason
    record(db, actor, "point.reject", "point", point.id, before, snapshot(point, POINT_AUDIT))
    return point


def activate_on_first_contact(db: Session, meter: Meter, today: date) -> None:
    """An approved point becomes active when its meter first comes online within validity."""
    point = get_point(db, meter.point_id)
    if point.status == PointStatus.approved and point.valid_from <= today <= point.valid_until:
        point.status = PointStatus.active


def activate_points_with_meters_online(db: Session, today: date) -> list[MeteringPoint]:
    """Approved points whose meter is already online and whose validity has begun become active."""
    query = (select(MeteringPoint).join(Meter, Meter.point_id == MeteringPoint.id)
             .where(MeteringPoint.status == PointStatus.approved, Meter.online.is_(True),
                    MeteringPoint.valid_from <= today, MeteringPoint.valid_until >= today))
    activated = list(db.exec(query))
    for point in activated:
        point.status = PointStatus.active
    return activated


def close_point(db: Session, point_id: int, actor: User | None = None) -> MeteringPoint:
    point = get_point(db, point_id)
    before = snapshot(point, POINT_AUDIT)
    point.status = PointStatus.closed
    _note_meter_of(db, point)
    record(db, actor, "point.close", "point", point.id, before, snapshot(point, POINT_AUDIT))
    return point


def _note_meter_of(db: Session, point: MeteringPoint) -> None:
    """The broker drops the meter's (and its DTU's) account once the point's sessions have stopped."""
    if meter := meter_of_point(db, point.id):
        broker_accounts.note_meter_and_dtu(db, meter)


def expire_points(db: Session, today: date) -> list[MeteringPoint]:
    """Mark points whose validity period has ended as expired; cheap enough to run every minute."""
    live = [PointStatus.approved, PointStatus.active]
    points = db.exec(select(MeteringPoint).where(MeteringPoint.status.in_(live), MeteringPoint.valid_until < today))
    expired = [p for p in points if has_expired(p, today)]
    for point in expired:
        point.status = PointStatus.expired
        _note_meter_of(db, point)
    return expired


def get_meter(db: Session, meter_id: int) -> Meter:
    meter = db.get(Meter, meter_id)
    if meter is None:
        raise MeterNotFound(f"meter {meter_id} does not exist")
    return meter


def meter_of_point(db: Session, point_id: int) -> Meter | None:
    return db.exec(select(Meter).where(Meter.point_id == point_id)).first()


def outlets_of_point(db: Session, point_id: int) -> list[Outlet]:
    return list(db.exec(select(Outlet).where(Outlet.point_id == point_id).order_by(Outlet.channel)))


def outlet_by_token(db: Session, token: str) -> Outlet:
    outlet = db.exec(select(Outlet).where(Outlet.qr_token == token)).first()
    if outlet is None:
        raise OutletNotFound("no outlet has this QR code")
    return outlet


def list_meters(db: Session) -> list[Meter]:
    return list(db.exec(select(Meter).order_by(Meter.id)))
