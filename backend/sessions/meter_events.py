"""What a meter says about a session: acks of its commands, its own stop records, relays seen open.

A meter's word is the truth about energy: a session the platform gave up on is revived when the
meter proves it ran, and a provisional settlement is redone when the meter's stop record comes.
"""
import logging
from datetime import datetime, timedelta
from decimal import Decimal

from sqlmodel import Session, select

from backend.core import metrics
from backend.core.clock import as_utc, utcnow
from backend.meters.orders import RelayOrder, queue_order
from backend.meters.register_rules import Reading as RegisterReading
from backend.points.models import Meter
from backend.sessions.commands import order
from backend.sessions.live import count_readings_so_far
from backend.sessions.models import SessionStatus, StopReason, UsageSession
from backend.sessions.service import locked_session
from backend.sessions.settlement import (adjust_after_late_reading, claim_readings, first_reading_naming,
                                         register_before, seq_or, settle_session, start_reading)

log = logging.getLogger(__name__)


CONFIRM_SECONDS = 60


def command_acknowledged(db: Session, meter: Meter, cmd_id: str, action: str, ok: bool, reason: str | None,
                         register_wh: int, at: datetime, boot_id: str | None = None,
                         seq: int | None = None) -> UsageSession | None:
    """Turn a meter's ack into session state; repeats and unknown commands change nothing."""
    session = _session_by_command(db, meter, cmd_id)
    if session is None:
        if not cmd_id.startswith("rc-"):  # reconciliation orders belong to no session's lifecycle
            log.warning("ack for unknown command %s from meter %s", cmd_id, meter.serial)
        return None
    session = locked_session(db, session.id)
    _measure_round_trip(session, action)
    if action == "close":
        _close_acknowledged(db, session, ok, reason, RegisterReading(boot_id or "unknown", seq_or(seq, -1), at,
                                                                     register_wh))
    elif ok and session.status == SessionStatus.stopping and session.start_register_wh is None:
        # Switched off before the meter confirmed switching on: nothing it measured can be billed (yet).
        give_up(session, at, "it was stopped before the meter confirmed the start; nothing was charged")
    elif ok and session.status in (SessionStatus.active, SessionStatus.stopping):
        _finish(db, session, register_wh, at, session.stop_reason or StopReason.remote, boot_id, seq)
    elif ok and session.provisional and cmd_id == session.stop_cmd_id:
        _confirm_stop(db, session, register_wh, at, boot_id, seq)
    return session


def _measure_round_trip(session: UsageSession, action: str) -> None:
    """The first ack of a command: how long after it was first sent (the wait a vendor sees)."""
    sent, waiting = ((session.requested_at, SessionStatus.starting) if action == "close"
                     else (session.stop_requested_at, SessionStatus.stopping))
    if sent is not None and session.status == waiting:
        metrics.command_round_trip.labels(action).observe(max(0.0, (utcnow() - as_utc(sent)).total_seconds()))


def _close_acknowledged(db: Session, session: UsageSession, ok: bool, reason: str | None,
                        switched: RegisterReading) -> None:
    waiting = session.start_register_wh is None and session.status in (SessionStatus.starting, SessionStatus.stopping)
    if not ok:
        if waiting:
            session.status = SessionStatus.failed
            session.failure_reason = f"the meter refused: {reason or 'no reason given'}"
            session.ended_at = switched.time
        return
    if waiting:
        set_start(session, switched)
        if session.status == SessionStatus.starting:
            session.status = SessionStatus.active
            count_readings_so_far(db, session)
    elif gave_up_waiting(session):
        revive(db, session, switched, "its start ack arrived after the platform had given up waiting")
    elif session.start_register_wh is not None and _earlier_in_same_boot(switched, start_reading(session)):
        set_start(session, switched)  # revived from a reading; the ack is the true start


def set_start(session: UsageSession, switched: RegisterReading) -> None:
    session.start_register_wh = session.latest_register_wh = switched.register_wh
    session.start_boot_id, session.start_seq = switched.boot_id, switched.seq
    session.started_at = session.latest_reading_at = switched.time
    session.latest_boot_id = session.latest_seq = session.live_energy_wh = session.live_billed_to_wh = None
    session.latest_amount = Decimal("0.00")


def _earlier_in_same_boot(one: RegisterReading, other: RegisterReading) -> bool:
    return one.boot_id == other.boot_id and one.seq < other.seq


def give_up(session: UsageSession, at: datetime, why: str) -> None:
    """The platform stops waiting for a start; the meter's later word can still revive the session."""
    session.status = SessionStatus.failed
    session.failure_reason = why
    session.ended_at = at


def gave_up_waiting(session: UsageSession) -> bool:
    """Failed because its start ack did not come in time (a refusal leaves no stop command)."""
    return session.status == SessionStatus.failed and session.stop_cmd_id is not None


def revive(db: Session, session: UsageSession, start: RegisterReading, why: str) -> None:
    """The meter proves a session the platform gave up on did run: bill it from the meter's registers.

    When the platform gave up it ordered the relay open, so the session is `stopping`: the meter's
    answer to that order (or its stop record) settles it. The energy is the vendor's, never the
    applicant's; an operator reviews the session.
    """
    set_start(session, start)
    session.status = SessionStatus.stopping
    session.stop_requested_at = session.ended_at
    session.stop_reason = StopReason.no_start_ack
    session.ended_at = session.failure_reason = None
    session.needs_review = True
    session.review_note = f"revived: the meter ran this session, but {why}"[:1000]
    log.warning("session %s revived: %s", session.id, why)
    order(db, db.get(Meter, session.meter_id), session, "open", session.stop_cmd_id,
           utcnow() + timedelta(seconds=CONFIRM_SECONDS))


def _confirm_stop(db: Session, session: UsageSession, register_wh: int, at: datetime, boot_id: str | None,
                  seq: int | None) -> None:
    """The stop record of a session settled from its last reading: the true stop register re-prices it."""
    session.stop_register_wh, session.stop_boot_id, session.stop_seq = register_wh, boot_id, seq
    session.ended_at = at
    session.provisional = False
    session.review_note = f"{session.review_note or ''}; the meter's stop record came later and re-settled it"[:1000]
    claim_readings(db, session)
    adjust_after_late_reading(db, session, "stop_confirmed")


def ended_by_meter(db: Session, meter: Meter, channel: int, session_id: int, reason: str, register_wh: int,
                   at: datetime, boot_id: str | None = None, seq: int | None = None) -> UsageSession | None:
    """The meter opened the relay itself (limit reached, fault); close and settle."""
    session = db.get(UsageSession, session_id)
    if session is not None:
        session = locked_session(db, session_id)
    if session is None or session.meter_id != meter.id or session.channel != channel:
        log.warning("meter %s ended unknown session %s on channel %s", meter.serial, session_id, channel)
        # Nothing of ours to end; confirm anyway, so the meter stops repeating its record.
        queue_order(db, RelayOrder(meter_serial=meter.serial, channel=channel, action="confirm_end",
                                   session_id=session_id, cmd_id=f"ce-{session_id}",
                                   deadline=utcnow() + timedelta(seconds=CONFIRM_SECONDS)))
        return None
    if gave_up_waiting(session):
        _revive_from_stop_record(db, session)
    stop_reason = StopReason(reason) if reason in StopReason.__members__ else StopReason.meter
    if session.status in (SessionStatus.active, SessionStatus.stopping):
        _finish(db, session, register_wh, at, stop_reason, boot_id, seq)
    elif session.provisional:
        _confirm_stop(db, session, register_wh, at, boot_id, seq)
    elif session.status == SessionStatus.completed and session.stop_reason == StopReason.meter:
        _name_the_stop(db, session, stop_reason, register_wh, at, boot_id, seq)
    elif gave_up_waiting(session):
        # Nothing proves where it started: the energy stays the vendor's claim, never the applicant's bill.
        session.needs_review = True
        session.stop_register_wh, session.stop_boot_id, session.stop_seq = register_wh, boot_id, seq
        session.ended_at = max(as_utc(session.ended_at), at) if session.ended_at else at
        session.review_note = (f"the meter reports it ran this session ({reason}, stop register {register_wh} Wh) "
                               f"but neither its start nor any reading of the outlet before it arrived")[:1000]
    # The meter re-sends its stop record until told it is stored (after this transaction commits).
    order(db, meter, session, "confirm_end", f"ce-{session.id}", utcnow() + timedelta(seconds=CONFIRM_SECONDS))
    return session


def _revive_from_stop_record(db: Session, session: UsageSession) -> None:
    if (first := first_reading_naming(db, session)) is not None:
        revive(db, session, first, "its start ack never came; its readings name it")
    elif (before := register_before(db, session)) is not None:
        # An open relay meters nothing, so the outlet's register was the same when the relay closed.
        revive(db, session, before, "neither its start ack nor a reading naming it came; started from the "
                                    "outlet's last reading before it")


def _name_the_stop(db: Session, session: UsageSession, reason: StopReason, register_wh: int, at: datetime,
                   boot_id: str | None, seq: int | None) -> None:
    """A reading showing the relay open ended the session first (another lane); the meter's record says why."""
    session.stop_reason = reason
    if register_wh != session.stop_register_wh:
        _confirm_stop(db, session, register_wh, at, boot_id, seq)


def _finish(db: Session, session: UsageSession, stop_register_wh: int, at: datetime, reason: StopReason,
            boot_id: str | None, seq: int | None) -> None:
    session.stop_register_wh = session.latest_register_wh = stop_register_wh
    session.stop_boot_id, session.stop_seq = boot_id, seq
    session.ended_at = session.latest_reading_at = at
    session.stop_reason = reason
    settle_session(db, session)


def _session_by_command(db: Session, meter: Meter, cmd_id: str) -> UsageSession | None:
    query = select(UsageSession).where(
        UsageSession.meter_id == meter.id,
        (UsageSession.start_cmd_id == cmd_id) | (UsageSession.stop_cmd_id == cmd_id))
    return db.exec(query).first()


def finish_from_reading(db: Session, session: UsageSession, register_wh: int, at: datetime, boot_id: str,
                        seq: int) -> None:
    """The meter reports the relay open while the session is open: its stop record never came; end it here."""
    session = locked_session(db, session.id)
    if session.status not in (SessionStatus.active, SessionStatus.stopping):
        return
    log.warning("session %s: meter reports relay open without a stop record; ending it at %s Wh",
                session.id, register_wh)
    note = "ended from a reading that showed the relay open (no ack or stop record arrived)"
    session.review_note = f"{session.review_note}; {note}"[:1000] if session.review_note else note
    _finish(db, session, register_wh, at, session.stop_reason or StopReason.meter, boot_id, seq)


def order_relay_open(db: Session, meter: Meter, channel: int, session_id: int, timeout: int) -> None:
    """A relay is closed with no open session: open it (one command id per session, so repeats are no-ops)."""
    session = db.get(UsageSession, session_id)
    if session is None or session.meter_id != meter.id:
        return
    log.warning("meter %s: relay %s closed with no open session; ordering it open", meter.serial, channel)
    order(db, meter, session, "open", f"rc-{session_id}", utcnow() + timedelta(seconds=timeout))
