"""Usage totals per metering point, summed in SQL."""
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import case, func
from sqlmodel import Session, select

from backend.sessions.models import OPEN_STATUSES, SessionStatus, UsageSession


@dataclass(frozen=True)
class PointUsage:
    sessions: int = 0
    open_now: int = 0
    energy_wh: int = 0  # settled energy of completed sessions
    collected: Decimal = Decimal("0.00")  # settled money of completed sessions


def usage_by_point(db: Session, point_ids: list[int]) -> dict[int, PointUsage]:
    if not point_ids:
        return {}
    completed = UsageSession.status == SessionStatus.completed
    query = (select(UsageSession.point_id, func.count(),
                    func.sum(case((UsageSession.status.in_(OPEN_STATUSES), 1), else_=0)),
                    func.sum(case((completed, UsageSession.energy_wh), else_=0)),
                    func.sum(case((completed, UsageSession.amount), else_=None)))
             .where(UsageSession.point_id.in_(point_ids)).group_by(UsageSession.point_id))
    return {point_id: PointUsage(count, int(open_now or 0), int(energy or 0), _money(fen))
            for point_id, count, open_now, energy, fen in db.exec(query)}


def _money(total: Decimal | None) -> Decimal:
    return (total or Decimal(0)).quantize(Decimal("0.01"))
