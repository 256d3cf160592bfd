"""A point with three 32 A outlets, vendors with money, and a meter feed that knows where every Wh went."""
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from backend.points import service as points
from backend.points.models import Meter, MeteringPoint
from backend.users.models import Role, User
from tests import factories
from tests.backend.reconciliation.meter_feed import MeterFeed

SHANGHAI = ZoneInfo("Asia/Shanghai")
QUARTER = timedelta(minutes=15)


@dataclass
class Scene:
    point: MeteringPoint
    meter: Meter
    applicant: User
    vendors: list[User]
    feed: MeterFeed


def make_scene(db, price: Decimal | None = Decimal("0.5000")) -> Scene:
    applicant = factories.user(db, Role.applicant)
    point, meter = factories.active_point(db, applicant, outlets=3, price=price,
                                          outlet_rated_current_a=Decimal("32"))
    vendors = [factories.user(db, Role.vendor, Decimal("500.00")) for _ in range(3)]
    return Scene(point, meter, applicant, vendors, MeterFeed(db, meter, points.outlets_of_point(db, point.id)))


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def run_quarters(feed: MeterFeed, start: datetime, end: datetime, draw: dict[int, int]) -> None:
    """Every quarter hour from start to end: each outlet draws its Wh, then the meter reports."""
    moment = start
    while moment < end:
        moment += QUARTER
        for channel, energy_wh in draw.items():
            feed.use(channel, energy_wh)
        feed.report(moment)
