from datetime import UTC, datetime
from decimal import Decimal

from backend.points import service as points
from backend.sessions.models import SessionStatus, UsageSession
from backend.sessions.usage import usage_by_point
from backend.users.models import Role
from tests import factories


def add_session(db, point, meter, outlet, vendor, status, energy_wh=None, amount=None):
    db.add(UsageSession(outlet_id=outlet.id, point_id=point.id, meter_id=meter.id, vendor_id=vendor.id,
                        channel=outlet.channel, tariff_id=point.tariff_id, status=status,
                        price_per_kwh=Decimal("0.67"), energy_limit_wh=9999,
                        start_cmd_id=f"c{datetime.now(UTC).timestamp()}{status}{energy_wh}",
                        energy_wh=energy_wh, amount=amount))
    db.flush()


def test_only_completed_sessions_count_as_energy_and_money_collected(db):
    point, meter = factories.active_point(db, outlets=3)
    other, other_meter = factories.active_point(db, outlets=1)
    vendor = factories.user(db, Role.vendor)
    a, b, c = points.outlets_of_point(db, point.id)
    add_session(db, point, meter, a, vendor, SessionStatus.completed, 2000, Decimal("1.34"))
    add_session(db, point, meter, a, vendor, SessionStatus.completed, 1000, Decimal("0.67"))
    add_session(db, point, meter, b, vendor, SessionStatus.active)
    add_session(db, point, meter, c, vendor, SessionStatus.failed)
    add_session(db, other, other_meter, points.outlets_of_point(db, other.id)[0], vendor,
                SessionStatus.completed, 100, Decimal("0.07"))
    usage = usage_by_point(db, [point.id, other.id])
    assert (usage[point.id].sessions, usage[point.id].open_now) == (4, 1)
    assert (usage[point.id].energy_wh, usage[point.id].collected) == (3000, Decimal("2.01"))
    assert usage[other.id].collected == Decimal("0.07")
    assert usage_by_point(db, []) == {}
