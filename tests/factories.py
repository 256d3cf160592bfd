"""Build domain objects through the real services, for tests."""
from datetime import timedelta
from decimal import Decimal

from sqlmodel import Session

from backend.core.clock import local_today
from backend.points import service as points
from backend.points.models import Meter, MeteringPoint, PointApply, PointStatus, Purpose
from backend.tariffs.models import Tariff
from backend.tariffs.service import create_tariff, ensure_default_tariffs
from backend.users.models import Role, User
from backend.users.service import create_user
from billing.payments.providers import DemoProvider
from billing.payments.service import top_up

_counter = iter(range(10**6))


def user(db: Session, role: Role, balance: Decimal = Decimal("0")) -> User:
    made = create_user(db, f"1{next(_counter):010d}", "password-123", role, f"{role.value} user")
    if balance:
        top_up(db, made.id, balance, DemoProvider())
    return made


def application(outlets: int = 2, **overrides) -> PointApply:
    today = local_today()
    fields = dict(name="Night market", address="Market square", latitude=31.3, longitude=120.6,
                  purpose=Purpose.night_market, capacity_kw=Decimal("20"), outlet_count=outlets,
                  valid_from=today - timedelta(days=1), valid_until=today + timedelta(days=90))
    return PointApply(**(fields | overrides))


def active_point(db: Session, applicant: User | None = None, outlets: int = 2,
                 price: Decimal | None = None, **overrides) -> tuple[MeteringPoint, Meter]:
    """An approved point whose meter is online, so it accepts sessions."""
    applicant = applicant or user(db, Role.applicant)
    tariff = flat_tariff(db, price) if price is not None else ensure_default_tariffs(db)[1]
    point = points.apply_for_point(db, applicant, application(outlets, **overrides))
    points.approve_point(db, point.id, tariff.id)
    meter = points.meter_of_point(db, point.id)
    meter.online = True
    point.status = PointStatus.active
    db.flush()
    return point, meter


def flat_tariff(db: Session, price: Decimal, service_fee: dict | None = None) -> Tariff:
    """A one-version flat tariff (optionally with a service fee)."""
    version = {"label": "v1", "effective_from": "2020-01-01", "price_per_kwh": str(price)}
    if service_fee:
        version["service_fee"] = service_fee
    return create_tariff(db, {"name": f"flat-{next(_counter)}", "title": f"Flat {price}", "category": "commercial",
                              "versions": [version]})
