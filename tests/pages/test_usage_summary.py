from datetime import UTC, datetime
from decimal import Decimal

from backend.pages.usage import usage_by_point
from backend.sessions.models import SessionPublic, SessionStatus


def _session(point_id: int, status: SessionStatus, energy_wh: int, amount: str) -> SessionPublic:
    return SessionPublic(id=1, outlet_id=1, point_id=point_id, channel=1, status=status,
                         price_per_kwh=Decimal("0.67"), energy_limit_wh=10_000, requested_at=datetime.now(UTC),
                         started_at=None, ended_at=None, start_register_wh=None, stop_register_wh=None,
                         energy_wh=energy_wh, amount=Decimal(amount), power_w=None, stop_reason=None,
                         failure_reason=None)


def test_only_completed_sessions_count_as_energy_and_money_collected():
    usage = usage_by_point([
        _session(1, SessionStatus.completed, 2_000, "1.34"),
        _session(1, SessionStatus.completed, 1_000, "0.67"),
        _session(1, SessionStatus.active, 500, "0.34"),
        _session(1, SessionStatus.failed, 0, "0.00"),
        _session(2, SessionStatus.completed, 100, "0.07"),
    ])
    point = usage[1]
    assert (point.sessions, point.open_now) == (4, 1)
    assert (point.energy_wh, point.collected) == (3_000, Decimal("2.01"))
    assert usage[2].collected == Decimal("0.07")
