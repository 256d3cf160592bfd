"""The demo site: an operator, an applicant, a vendor and two provisioned points."""
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from sqlmodel import Session, select

from backend.core.clock import local_today
from backend.dtu import service as dtus
from backend.dtu.models import DtuCommission
from backend.points import service as points
from backend.points.models import Meter, MeteringPoint, PointApply, Purpose
from backend.tariffs.models import TariffCategory
from backend.tariffs.service import ensure_default_tariffs
from backend.users.models import Role, User
from backend.users.service import create_user
from billing.payments.providers import DemoProvider
from billing.payments.service import top_up


@dataclass(frozen=True)
class DemoAccount:
    role: Role
    phone: str
    password: str
    name: str


@dataclass(frozen=True)
class DemoMeter:
    serial: str
    password: str
    channels: int
    purpose: Purpose
    point_name: str
    first_outlet_token: str
    # DL/T 645 meters behind a DTU (the bridge plays the meter): the DTU's id and password, each outlet's address.
    dtu_id: str | None = None
    dtu_password: str | None = None
    addresses: tuple[str, ...] = ()


OPERATOR = DemoAccount(Role.operator, "13800000000", "operator-demo", "供电所运营（演示）")
APPLICANT = DemoAccount(Role.applicant, "13900000000", "applicant-demo", "桥头村集体（演示）")
VENDOR = DemoAccount(Role.vendor, "13700000000", "vendor-demo", "夜市摊主（演示）")
ACCOUNTS = (OPERATOR, APPLICANT, VENDOR)
VENDOR_STARTING_BALANCE = Decimal("50.00")

POINTS = [
    (dict(name="桥头夜市", address="江苏省宜兴市桥头广场", latitude=31.3406,
          longitude=119.8232, purpose=Purpose.night_market, capacity_kw=Decimal("30"), outlet_count=8,
          outlet_rated_current_a=Decimal("16")), TariffCategory.commercial),
    (dict(name="东风村 3 号机井", address="江苏省兴化市东风村", latitude=32.9108,
          longitude=119.8522, purpose=Purpose.irrigation, capacity_kw=Decimal("11"), outlet_count=1,
          outlet_rated_current_a=Decimal("32")), TariffCategory.agricultural),
    (dict(name="东山碧螺春茶场炒茶棚", address="江苏省苏州市吴中区东山镇", latitude=31.0712,
          longitude=120.4013, purpose=Purpose.tea_processing, capacity_kw=Decimal("10"), outlet_count=2,
          outlet_rated_current_a=Decimal("16")), TariffCategory.agricultural),
]
# The tea yard's outlets are two DL/T 645-2007 meters on one RS-485 bus behind a 4G DTU (docs/dlt645.md).
TEA_YARD_DTU = DtuCommission(dtu_id="DTU-DEMO-TEA", channels=[{"channel": 1, "address": "000000000101"},
                                                               {"channel": 2, "address": "000000000102"}])


def seed_demo(db: Session) -> list[DemoMeter]:
    """Create the demo site once; later calls return the same meters."""
    tariffs = {t.category: t for t in ensure_default_tariffs(db)}
    users = {a.role: _account(db, a) for a in ACCOUNTS}
    for fields, category in POINTS:
        point = _point(db, users[Role.applicant], fields, tariffs[category].id)
        if fields["purpose"] == Purpose.tea_processing and dtus.link_of_meter(db, _meter_id(db, point)) is None:
            dtus.commission(db, point.id, TEA_YARD_DTU, None)
    return [_demo_meter(db, m) for m in db.exec(select(Meter).order_by(Meter.id))
            if _is_demo_point(db, m.point_id, users[Role.applicant].id)]


def _account(db: Session, account: DemoAccount) -> User:
    user = db.exec(select(User).where(User.phone == account.phone)).first()
    if user is None:
        user = create_user(db, account.phone, account.password, account.role, account.name)
        if account.role == Role.vendor:
            top_up(db, user.id, VENDOR_STARTING_BALANCE, DemoProvider())
    return user


def _point(db: Session, applicant: User, fields: dict, tariff_id: int) -> MeteringPoint:
    exists = db.exec(select(MeteringPoint).where(MeteringPoint.name == fields["name"],
                                                 MeteringPoint.applicant_id == applicant.id)).first()
    if exists is not None:
        return exists
    today = local_today()
    body = PointApply(**fields, valid_from=today - timedelta(days=1), valid_until=today + timedelta(days=180))
    point = points.apply_for_point(db, applicant, body)
    points.approve_point(db, point.id, tariff_id)
    return point


def _meter_id(db: Session, point: MeteringPoint) -> int:
    return points.meter_of_point(db, point.id).id


def _is_demo_point(db: Session, point_id: int, applicant_id: int) -> bool:
    return db.get(MeteringPoint, point_id).applicant_id == applicant_id


def _demo_meter(db: Session, meter: Meter) -> DemoMeter:
    point = db.get(MeteringPoint, meter.point_id)
    first = points.outlets_of_point(db, point.id)[0]
    link = dtus.link_of_meter(db, meter.id)
    addresses = tuple(c.address for c in dtus.channels_of(db, meter.id)) if link else ()
    return DemoMeter(serial=meter.serial, password=meter.mqtt_password, channels=point.outlet_count,
                     purpose=point.purpose, point_name=point.name, first_outlet_token=first.qr_token,
                     dtu_id=link.dtu_id if link else None, dtu_password=link.mqtt_password if link else None,
                     addresses=addresses)
