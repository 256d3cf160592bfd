"""Scheduled work on sessions whose meter has not answered: retry, give up, report, stop before a hold lapses."""
import logging
from datetime import datetime, timedelta

from sqlmodel import Session, select

from backend.core.clock import utcnow
from backend.points.models import Meter
from backend.sessions.commands import new_cmd_id, order, start_deadline, stop_deadline
from backend.sessions.meter_events import give_up, set_start
from backend.sessions.models import SessionStatus, StopReason, UsageSession
from backend.sessions.service import begin_stop, locked_session
from backend.sessions.settlement import first_reading_naming
from billing.payments import holds

log = logging.getLogger(__name__)


def stop_sessions_with_expiring_holds(db: Session, now: datetime, timeout: int) -> list[UsageSession]:
    """Stop card-paid sessions whose hold nears Stripe's 7-day limit, so they settle before it lapses."""
    stopped = []
    for hold in holds.holds_near_expiry(db, now):
        session = locked_session(db, hold.session_id) if hold.session_id else None
        if session is not None and session.status in (SessionStatus.starting, SessionStatus.active):
            begin_stop(session, StopReason.remote, now)
            session.review_note = "stopped by the platform: its card hold was about to expire"
            order(db, db.get(Meter, session.meter_id), session, "open", session.stop_cmd_id,
                   stop_deadline(session, timeout))
            stopped.append(session)
    return stopped


def expire_unacknowledged_starts(db: Session, now: datetime, timeout: int) -> list[UsageSession]:
    """Give up on sessions whose start the meter never acknowledged, and make sure the relay is open.

    A session whose readings already show its relay closed did start (only its ack is missing):
    it runs on from its first such reading, under review, instead of failing. A session stopped
    before its start was confirmed is waited for no longer than one that was not.
    """
    cutoff = now - timedelta(seconds=timeout)
    unconfirmed = ((UsageSession.status == SessionStatus.starting)
                   | ((UsageSession.status == SessionStatus.stopping) & UsageSession.start_register_wh.is_(None)))
    query = select(UsageSession.id).where(unconfirmed, UsageSession.requested_at < cutoff)
    failed = []
    for session_id in list(db.exec(query)):
        session = locked_session(db, session_id)
        if session.start_register_wh is not None or session.status not in (SessionStatus.starting,
                                                                            SessionStatus.stopping):
            continue  # its ack arrived meanwhile
        if (first := first_reading_naming(db, session, relay_closed=True)) is not None:
            set_start(session, first)
            session.status = SessionStatus.active if session.status == SessionStatus.starting else session.status
            session.needs_review = True
            session.review_note = ("the meter never acknowledged the start, but its readings show the relay "
                                   "closed: started from the first of them")
            continue
        failed.append(session)
        give_up(session, now, f"the meter did not acknowledge the start within {timeout} s; nothing was charged")
        session.stop_cmd_id = session.stop_cmd_id or new_cmd_id()
        order(db, db.get(Meter, session.meter_id), session, "open", session.stop_cmd_id,
               now + timedelta(seconds=timeout))
    return failed


def retry_unacknowledged_commands(db: Session, now: datetime, timeout: int, every: int = 5) -> list[UsageSession]:
    """Re-send close and open commands the meter has not acknowledged: same id, same deadline."""
    recent, asked_before = now - timedelta(seconds=timeout), now - timedelta(seconds=every)
    starting = db.exec(select(UsageSession).where(UsageSession.status == SessionStatus.starting,
                                                  UsageSession.requested_at > recent,
                                                  UsageSession.requested_at < asked_before))
    stopping = db.exec(select(UsageSession).where(UsageSession.status == SessionStatus.stopping,
                                                  UsageSession.stop_requested_at > recent,
                                                  UsageSession.stop_requested_at < asked_before))
    retried = []
    for session in starting:
        order(db, db.get(Meter, session.meter_id), session, "close", session.start_cmd_id,
               start_deadline(session, timeout))
        retried.append(session)
    for session in stopping:
        order(db, db.get(Meter, session.meter_id), session, "open", session.stop_cmd_id,
               stop_deadline(session, timeout))
        retried.append(session)
    return retried


def resend_stops_after_reconnect(db: Session, meter: Meter, timeout: int) -> list[UsageSession]:
    """A meter that was away may still have a relay closed for a session the platform stopped: send it again."""
    query = select(UsageSession).where(UsageSession.meter_id == meter.id,
                                       (UsageSession.status == SessionStatus.stopping) | UsageSession.provisional)
    pending = list(db.exec(query))
    for session in pending:
        order(db, meter, session, "open", session.stop_cmd_id, utcnow() + timedelta(seconds=timeout))
    return pending


def report_unacknowledged_stops(db: Session, now: datetime, timeout: int) -> list[UsageSession]:
    """A stop the meter did not acknowledge by its deadline is reported to the vendor and the operator."""
    query = select(UsageSession.id).where(UsageSession.status == SessionStatus.stopping,
                                          UsageSession.stop_requested_at < now - timedelta(seconds=timeout),
                                          UsageSession.needs_review.is_(False))
    late = []
    for session_id in list(db.exec(query)):
        session = locked_session(db, session_id)
        if session.status != SessionStatus.stopping or session.needs_review:
            continue
        late.append(session)
        session.needs_review = True
        session.failure_reason = ("the meter has not confirmed switching off; billing waits for its reading, "
                                  "and an operator has been alerted")
        session.review_note = f"stop command {session.stop_cmd_id} not acknowledged within {timeout} s"
        log.warning("session %s: stop not acknowledged by meter %s", session.id, session.meter_id)
    return late


def stop_sessions_past_max_duration(db: Session, now: datetime, max_hours: float, timeout: int) -> list[UsageSession]:
    """Stop sessions running longer than SESSION_MAX_HOURS through the normal stop path: no zombie sessions."""
    cutoff = now - timedelta(hours=max_hours)
    query = select(UsageSession.id).where(UsageSession.status == SessionStatus.active,
                                          UsageSession.started_at < cutoff)
    stopped = []
    for session_id in list(db.exec(query)):
        session = locked_session(db, session_id)
        if session.status != SessionStatus.active:
            continue  # stopped meanwhile
        begin_stop(session, StopReason.max_duration, now)
        order(db, db.get(Meter, session.meter_id), session, "open", session.stop_cmd_id,
              stop_deadline(session, timeout))
        stopped.append(session)
        log.info("session %s ran past %g h: stopping it", session.id, max_hours,
                 extra={"session_id": session.id})
    return stopped
