"""A point that closes or expires ends its open sessions through the normal stop path."""
from datetime import date

from sqlmodel import Session

from backend.points import service as points
from backend.points.models import MeteringPoint
from backend.sessions.models import StopReason
from backend.sessions.service import stop_sessions_at_point
from backend.users.models import User


def close_point(db: Session, point_id: int, command_timeout: int, actor: User | None = None) -> MeteringPoint:
    """No new sessions start on the point; the running ones are stopped and settled as usual."""
    point = points.close_point(db, point_id, actor)
    stop_sessions_at_point(db, point.id, StopReason.point_closed, command_timeout)
    return point


def expire_points(db: Session, today: date, command_timeout: int) -> list[MeteringPoint]:
    """Points whose validity ended are expired, and their running sessions stopped."""
    expired = points.expire_points(db, today)
    for point in expired:
        stop_sessions_at_point(db, point.id, StopReason.point_expired, command_timeout)
    return expired
