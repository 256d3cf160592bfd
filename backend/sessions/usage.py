"""Usage totals per metering point, summed in SQL."""
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import case, func
from sqlmodel import Session, select

from backend.core.clock import LOCAL_TZ, local
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


@dataclass(frozen=True)
class DayUsage:
    day: date
    sessions: int
    energy_wh: int
    collected: Decimal


def daily_usage(db: Session, point_id: int, first: date, last: date) -> list[DayUsage]:
    """Completed sessions of a point per local day (the day each ended, Asia/Shanghai), every day from first to last."""
    start = datetime.combine(first, time(), LOCAL_TZ).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time(), LOCAL_TZ).astimezone(UTC)
    query = select(UsageSession.ended_at, UsageSession.energy_wh, UsageSession.amount).where(
        UsageSession.point_id == point_id, UsageSession.status == SessionStatus.completed,
        UsageSession.ended_at >= start, UsageSession.ended_at < end)
    totals: dict[date, list] = {first + timedelta(days=n): [0, 0, Decimal("0.00")]
                                for n in range((last - first).days + 1)}
    for ended_at, energy_wh, amount in db.exec(query):
        row = totals[local(ended_at).date()]
        row[0] += 1
        row[1] += energy_wh or 0
        row[2] += amount or 0
    return [DayUsage(day, count, energy, _money(money)) for day, (count, energy, money) in totals.items()]
