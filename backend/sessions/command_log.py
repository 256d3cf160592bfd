"""A meter's relay commands and what became of them, read from the sessions that sent them."""
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from backend.sessions.models import SessionStatus, UsageSession


@dataclass(frozen=True)
class Command:
    sent_at: datetime
    action: str  # "close" (start) or "open" (stop)
    cmd_id: str
    session_id: int
    channel: int
    answered_at: datetime | None  # when the meter's ack (or, for a stop, its stop record) was applied
    outcome: str  # acknowledged, refused, unanswered, waiting


def commands_of_meter(db: Session, meter_id: int, limit: int = 40) -> list[Command]:
    """The latest relay commands of the meter's sessions, newest first."""
    query = select(UsageSession).where(UsageSession.meter_id == meter_id).order_by(UsageSession.id.desc()).limit(limit)
    found: list[Command] = []
    for session in db.exec(query):
        found.append(_start(session))
        if session.stop_cmd_id:
            found.append(_stop(session))
    return sorted(found, key=lambda c: c.sent_at, reverse=True)[:limit]


def _start(session: UsageSession) -> Command:
    if session.started_at is not None:
        outcome, answered = "acknowledged", session.started_at
    elif session.status == SessionStatus.failed:
        refused = (session.failure_reason or "").startswith("the meter refused")
        outcome, answered = ("refused" if refused else "unanswered"), session.ended_at
    else:
        outcome, answered = "waiting", None
    return Command(session.requested_at, "close", session.start_cmd_id, session.id, session.channel, answered, outcome)


def _stop(session: UsageSession) -> Command:
    if session.status == SessionStatus.completed and not session.provisional:
        outcome, answered = "acknowledged", session.ended_at
    elif session.status == SessionStatus.completed:
        outcome, answered = "unanswered", None
    else:
        outcome, answered = "waiting", None
    return Command(session.stop_requested_at or session.requested_at, "open", session.stop_cmd_id, session.id,
                   session.channel, answered, outcome)
