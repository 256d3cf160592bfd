"""Notices to applicants: their point's season ends soon (so they can apply again in time)."""
from datetime import date, datetime, timedelta

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, Session, SQLModel, col, select

from backend.core.clock import LOCAL_TZ, utcnow
from backend.core.rows import insert_once
from backend.points.models import MeteringPoint, PointStatus

SEASON_ENDING = "season_ending"
LIVE = (PointStatus.approved, PointStatus.active)


class PointNotice(SQLModel, table=True):
    """One notice per point, kind and validity end: a point whose validity is extended is told again."""

    __tablename__ = "point_notice"
    __table_args__ = (UniqueConstraint("point_id", "kind", "valid_until", name="uq_point_notice"),)
    id: int | None = Field(default=None, primary_key=True)
    point_id: int = Field(foreign_key="metering_point.id", index=True)
    applicant_id: int = Field(foreign_key="user.id", index=True)
    kind: str = Field(max_length=24)
    valid_until: date
    created_at: datetime = Field(default_factory=utcnow)


def notify_seasons_ending(db: Session, now: datetime, days_before: int) -> list[PointNotice]:
    """A notice for each live point whose validity ends within `days_before` days; once per point and end date."""
    today = now.astimezone(LOCAL_TZ).date()
    ending = db.exec(select(MeteringPoint).where(col(MeteringPoint.status).in_(LIVE),
                                                 MeteringPoint.valid_until >= today,
                                                 MeteringPoint.valid_until <= today + timedelta(days=days_before)))
    made = []
    for point in ending:
        notice = PointNotice(point_id=point.id, applicant_id=point.applicant_id, kind=SEASON_ENDING,
                             valid_until=point.valid_until, created_at=now)
        if insert_once(db, notice, "point_id", "kind", "valid_until"):
            made.append(notice)
    return made


def current_notices(db: Session, applicant_id: int, today: date) -> list[PointNotice]:
    """The applicant's notices still worth showing: about a validity end not yet past, of a point still live."""
    query = (select(PointNotice).join(MeteringPoint, col(MeteringPoint.id) == PointNotice.point_id)
             .where(PointNotice.applicant_id == applicant_id, PointNotice.valid_until >= today,
                    col(MeteringPoint.status).in_(LIVE), MeteringPoint.valid_until == PointNotice.valid_until)
             .order_by(PointNotice.valid_until))
    return list(db.exec(query))
