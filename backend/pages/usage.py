"""Per-point usage totals for an applicant, summed from the sessions they may see."""
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from backend.sessions.models import SessionPublic, SessionStatus


@dataclass
class PointUsage:
    sessions: int = 0
    open_now: int = 0
    energy_wh: int = 0  # settled energy of completed sessions
    collected: Decimal = Decimal("0.00")  # settled money of completed sessions


def usage_by_point(found: list[SessionPublic]) -> dict[int, PointUsage]:
    totals: dict[int, PointUsage] = defaultdict(PointUsage)
    for session in found:
        usage = totals[session.point_id]
        usage.sessions += 1
        if session.status.is_open:
            usage.open_now += 1
        elif session.status == SessionStatus.completed:
            usage.energy_wh += session.energy_wh
            usage.collected += session.amount
    return dict(totals)
