"""The operator's search: one box for phone numbers, point names and addresses, meter serials and session numbers."""
from dataclasses import dataclass, field

from sqlmodel import Session, col, or_, select

from backend.points.models import Meter, MeteringPoint
from backend.sessions.models import UsageSession
from backend.users.models import User

LIMIT = 25


@dataclass(frozen=True)
class Found:
    users: list[User] = field(default_factory=list)
    points: list[MeteringPoint] = field(default_factory=list)
    meters: list[Meter] = field(default_factory=list)
    sessions: list[UsageSession] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.users or self.points or self.meters or self.sessions)


def search(db: Session, text: str) -> Found:
    """Everything whose phone, name, address or serial contains `text` (case-insensitive); a number also finds
    the session and the point with that id."""
    text = text.strip()[:80]
    if not text:
        return Found()
    like = f"%{_escaped(text)}%"
    users = db.exec(select(User).where(or_(col(User.phone).like(like, escape="\\"),
                                           col(User.name).ilike(like, escape="\\"))).limit(LIMIT))
    point_match = or_(col(MeteringPoint.name).ilike(like, escape="\\"),
                      col(MeteringPoint.address).ilike(like, escape="\\"))
    if text.isdigit() and len(text) < 10:
        point_match = or_(point_match, MeteringPoint.id == int(text))
    found_points = db.exec(select(MeteringPoint).where(point_match).limit(LIMIT))
    meters = db.exec(select(Meter).where(col(Meter.serial).ilike(like, escape="\\")).limit(LIMIT))
    sessions = []
    if text.isdigit() and len(text) < 19:
        sessions = [s for s in [db.get(UsageSession, int(text))] if s is not None]
    return Found(list(users), list(found_points), list(meters), sessions)


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
