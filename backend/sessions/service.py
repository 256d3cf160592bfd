"""The session lifecycle: start, the meter's acks, stop, and settlement."""
import logging
import uuid
from datetime import datetime, timedelta
from decimal import Decimal

from sqlmodel import Session, select

from backend.core.clock import as_utc, local_today, utcnow
from backend.core.errors import Conflict, Forbidden, NotFound
from backend.core.rows import insert_once, lock_row
from backend.meters.orders import RelayOrder, queue_order
from backend.points import service as points
from backend.meters.models import Reading as MeterReading
from backend.points.models import Meter, Outlet
from backend.points.rules import refusal_to_serve
from backend.sessions.models import (
    OPEN_SESSION_SQL,
    OPEN_STATUSES,
    SessionStatus,
    StopReason,
    UsageSession,
)
from backend.meters.register_rules import Reading as RegisterReading
from backend.meters.register_rules import outlet_rated_power_w
from backend.sessions.models import BillLine
from backend.sessions.pricing import SessionBill, price_session, price_so_far
from backend.tariffs.service import get_tariff, price_now, tariff_engine
from backend.users.models import Role, User
from billing.budget import SessionBudget, session_budget
from billing.pricing import energy_amount
from billing.payments import holds
from billing.payments.models import Hold, HoldStatus
from billing.tariffs import Tariff as TariffEngine
from billing.wallet.service import charge_adjustment, charge_session, lock_wallet, wallet_balance

log = logging.getLogger(__name__)


CONFIRM_SECONDS = 60


class SessionNotFound(NotFound):
    pass


class OutletBusy(Conflict):
    pass


class PointNotServing(Conflict):
    pass


class MeterOffline(Conflict):
    pass


class InsufficientBalance(Conflict):
    pass


class SessionNotStoppable(Conflict):
    pass


class NotAVendor(Forbidden):
    pass


class CardPaymentsUnavailable(Conflict):
    pass


def start_session(db: Session, vendor: User, outlet_token: str, min_balance: Decimal,
                  command_timeout: int, hold_amount: Decimal | None = None, provider=None) -> UsageSession:
    """Open a session on the scanned outlet and order its relay closed.

    With `hold_amount`, the vendor pays by card: that amount is held on the card (via `provider`)
    and buys the energy limit; otherwise the wallet's spendable balance does. Either way the
    limit covers every fee, so the meter cuts off before the money runs out.
    """
    if vendor.role != Role.vendor:
        raise NotAVendor("only vendor accounts can switch power on")
    outlet = points.outlet_by_token(db, outlet_token)
    refusal = outlet_refusal(db, outlet)
    if refusal is not None:
        raise refusal
    point = points.get_point(db, outlet.point_id)
    meter = db.get(Meter, outlet.meter_id)
    tariff = get_tariff(db, point.tariff_id)
    if hold_amount is not None and not hasattr(provider, "authorize"):
        raise CardPaymentsUnavailable("card payments are not set up here; pay from your wallet")
    now = utcnow()
    session = UsageSession(outlet_id=outlet.id, point_id=point.id, meter_id=meter.id, vendor_id=vendor.id,
                           channel=outlet.channel, tariff_id=tariff.id,
                           price_per_kwh=price_now(tariff, now).price_per_kwh, energy_limit_wh=0,
                           start_cmd_id=_cmd_id())
    # The outlet is claimed before the wallet is locked: every transaction takes a session before its wallet.
    session = _insert_claiming_outlet(db, session)
    engine = tariff_engine(tariff)
    if hold_amount is None:
        budget = _wallet_budget(db, vendor.id, min_balance, engine, now)
    else:
        budget = _budget_or_refusal(hold_amount, "the card hold", engine, now)
        holds.place_hold(db, vendor.id, hold_amount, provider, session_id=session.id,
                         idempotency_key=f"hold:session:{session.id}")
    session.energy_limit_wh, session.max_amount = budget.energy_limit_wh, budget.max_amount
    _order(db, meter, session, "close", session.start_cmd_id, _start_deadline(session, command_timeout))
    return session


def _wallet_budget(db: Session, vendor_id: int, min_balance: Decimal, tariff: TariffEngine,
                   now: datetime) -> SessionBudget:
    """What the wallet's free money buys, decided while the wallet is locked."""
    lock_wallet(db, vendor_id)
    spendable = spendable_balance(db, vendor_id)
    if spendable < min_balance:
        raise InsufficientBalance(f"balance ¥{spendable} is below the ¥{min_balance} needed to start")
    return _budget_or_refusal(spendable, "your balance", tariff, now)


def _budget_or_refusal(money: Decimal, source: str, tariff: TariffEngine, now: datetime) -> SessionBudget:
    budget = session_budget(money, tariff, now)
    if not budget.buys_energy:
        raise InsufficientBalance(f"{source} of ¥{money} does not cover the ¥{budget.session_fee} per-session "
                                  f"service fee and any energy")
    return budget


def outlet_refusal(db: Session, outlet: Outlet) -> Conflict | None:
    """Why a session cannot start on this outlet now (point, outlet or meter), or None."""
    point = points.get_point(db, outlet.point_id)
    refusal = refusal_to_serve(point, local_today())
    if refusal:
        return PointNotServing(refusal)
    if open_session_on_outlet(db, outlet.id) is not None:
        return OutletBusy(f"outlet {outlet.channel} is in use by another session")
    if not db.get(Meter, outlet.meter_id).online:
        return MeterOffline(f"the meter of {point.name!r} is offline; try again in a moment")
    return None


def _insert_claiming_outlet(db: Session, session: UsageSession) -> UsageSession:
    """Insert the session unless its outlet has an open one: the unique index decides, not an earlier read."""
    if not insert_once(db, session, "outlet_id", where=OPEN_SESSION_SQL):
        raise OutletBusy(f"outlet {session.channel} is in use by another session")
    return db.exec(select(UsageSession).where(UsageSession.start_cmd_id == session.start_cmd_id)).one()


def spendable_balance(db: Session, vendor_id: int) -> Decimal:
    """The wallet balance less what the vendor's open sessions may still spend.

    Exact only while the wallet is locked (`lock_wallet`); otherwise it is a display figure.
    """
    reserved = sum((_most_it_can_cost(db, s) for s in _open_sessions_of(db, vendor_id)), Decimal("0.00"))
    return wallet_balance(db, vendor_id) - reserved


def _most_it_can_cost(db: Session, session: UsageSession) -> Decimal:
    if session.max_amount is not None:
        return session.max_amount
    # Sessions started before max_amount was recorded (migration 0008).
    dearest = tariff_engine(get_tariff(db, session.tariff_id)).highest_price_from(as_utc(session.requested_at))
    return energy_amount(session.energy_limit_wh, dearest)


def _open_sessions_of(db: Session, vendor_id: int) -> list[UsageSession]:
    """Open sessions paid from the wallet (a card hold backs the others)."""
    by_card = select(Hold.session_id).where(Hold.session_id.is_not(None))
    query = select(UsageSession).where(UsageSession.vendor_id == vendor_id, UsageSession.status.in_(OPEN_STATUSES),
                                       UsageSession.id.not_in(by_card))
    return list(db.exec(query))


def open_session_on_outlet(db: Session, outlet_id: int) -> UsageSession | None:
    query = select(UsageSession).where(UsageSession.outlet_id == outlet_id, UsageSession.status.in_(OPEN_STATUSES))
    return db.exec(query).first()


def request_stop(db: Session, actor: User, session_id: int, command_timeout: int) -> UsageSession:
    """Order the relay open; a repeated stop re-sends the same command.

    Who may stop: the session's vendor, any operator, and the applicant of the session's point
    (closing time, safety); the stop reason records which of them it was.
    """
    session = locked_session(db, visible_session(db, actor, session_id).id)
    if not session.status.is_open:
        raise SessionNotStoppable(f"session {session_id} is {session.status.value}")
    if session.status != SessionStatus.stopping:
        _begin_stop(session, _stopped_by(actor, session), utcnow())
    _order(db, db.get(Meter, session.meter_id), session, "open", session.stop_cmd_id,
           _stop_deadline(session, command_timeout))
    return session


def _stopped_by(actor: User, session: UsageSession) -> StopReason:
    if actor.id == session.vendor_id:
        return StopReason.vendor
    return StopReason.applicant if actor.role == Role.applicant else StopReason.remote


def _begin_stop(session: UsageSession, reason: StopReason, now: datetime) -> None:
    session.status = SessionStatus.stopping
    session.stop_cmd_id = _cmd_id()
    session.stop_requested_at = now
    session.stop_reason = reason


def stop_sessions_at_point(db: Session, point_id: int, reason: StopReason, timeout: int) -> list[UsageSession]:
    """End every open session of a point that closed or expired, through the normal stop path."""
    query = select(UsageSession.id).where(UsageSession.point_id == point_id, UsageSession.status.in_(OPEN_STATUSES))
    stopped = []
    for session_id in list(db.exec(query)):
        session = locked_session(db, session_id)
        if session.status in (SessionStatus.starting, SessionStatus.active):
            _begin_stop(session, reason, utcnow())
        if session.status == SessionStatus.stopping:
            _order(db, db.get(Meter, session.meter_id), session, "open", session.stop_cmd_id,
                   _stop_deadline(session, timeout))
            stopped.append(session)
    return stopped


def locked_session(db: Session, session_id: int) -> UsageSession:
    """The session as committed now, held until the transaction ends: its state changes one at a time."""
    lock_row(db, UsageSession, session_id)
    return db.get(UsageSession, session_id, populate_existing=True)


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
    if action == "close":
        _close_acknowledged(session, ok, reason, register_wh, at, boot_id, seq)
    elif ok and session.status in (SessionStatus.active, SessionStatus.stopping):
        _finish(db, session, register_wh, at, session.stop_reason or StopReason.remote, boot_id, seq)
    return session


def _close_acknowledged(session: UsageSession, ok: bool, reason: str | None, register_wh: int,
                        at: datetime, boot_id: str | None, seq: int | None) -> None:
    if session.start_register_wh is not None or session.status == SessionStatus.failed:
        return
    if not ok:
        session.status = SessionStatus.failed
        session.failure_reason = f"the meter refused: {reason or 'no reason given'}"
        session.ended_at = at
        return
    session.start_register_wh = session.latest_register_wh = register_wh
    session.start_boot_id, session.start_seq = boot_id, seq
    session.started_at = session.latest_reading_at = at
    session.latest_amount = Decimal("0.00")
    if session.status == SessionStatus.starting:
        session.status = SessionStatus.active


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
    if session.status in (SessionStatus.active, SessionStatus.stopping):
        stop_reason = StopReason(reason) if reason in StopReason.__members__ else StopReason.meter
        _finish(db, session, register_wh, at, stop_reason, boot_id, seq)
    # The meter re-sends its stop record until told it is stored (after this transaction commits).
    _order(db, meter, session, "confirm_end", f"ce-{session.id}", utcnow() + timedelta(seconds=CONFIRM_SECONDS))
    return session


def _finish(db: Session, session: UsageSession, stop_register_wh: int, at: datetime, reason: StopReason,
            boot_id: str | None, seq: int | None) -> None:
    session.stop_register_wh = session.latest_register_wh = stop_register_wh
    session.stop_boot_id, session.stop_seq = boot_id, seq
    session.ended_at = session.latest_reading_at = at
    session.stop_reason = reason
    settle_session(db, session)


def settle_session(db: Session, session: UsageSession) -> SessionBill:
    """Price the session's readings per tariff period and debit the wallet; once per session."""
    bill = _price(db, session)
    session.energy_wh, session.amount = bill.energy_wh, bill.total
    if bill.needs_review or bill.anomalies:
        session.needs_review = bill.needs_review
        session.review_note = "; ".join(a.reason for a in bill.anomalies)[:1000]
        log.warning("session %s settled with register anomalies: %s", session.id, session.review_note)
    _store_lines(db, session, bill)
    if hold_of(db, session.id) is None:
        charge_session(db, session.vendor_id, session.id, session.amount)
    # A card-paid session is captured by the scheduler (capture_settled_holds), outside the gateway.
    session.status = SessionStatus.completed
    return bill


def adjust_after_late_reading(db: Session, session: UsageSession) -> Decimal:
    """Re-price a settled session with a reading that arrived late; post the difference, never edit the past."""
    session = locked_session(db, session.id)
    bill = _price(db, session)
    difference = bill.total - billed_so_far(db, session)
    if difference:
        entry_key = f"adjust:{session.id}:{_adjustment_count(db, session) + 1}"
        charge_adjustment(db, session.vendor_id, session.id, difference, entry_key)
        db.add(BillLine(session_id=session.id, kind="adjustment", period="late_reading", version=entry_key,
                        energy_wh=None, unit_price=difference, amount=difference))
        log.info("session %s re-priced after a late reading: %+.2f yuan", session.id, difference)
    return difference


def _price(db: Session, session: UsageSession) -> SessionBill:
    outlet = db.get(Outlet, session.outlet_id)
    return price_session(session_readings(db, session), tariff_engine(get_tariff(db, session.tariff_id)),
                         outlet_rated_power_w(outlet.rated_current_a), session.max_amount)


def billed_so_far(db: Session, session: UsageSession) -> Decimal:
    """The settled amount plus every adjustment since."""
    adjustments = select(BillLine.amount).where(BillLine.session_id == session.id, BillLine.kind == "adjustment")
    return session.amount + sum(db.exec(adjustments), Decimal("0.00"))


def _adjustment_count(db: Session, session: UsageSession) -> int:
    query = select(BillLine.id).where(BillLine.session_id == session.id, BillLine.kind == "adjustment")
    return len(list(db.exec(query)))


def hold_of(db: Session, session_id: int) -> Hold | None:
    return db.exec(select(Hold).where(Hold.session_id == session_id)).first()


def capture_settled_holds(db: Session, provider) -> list[Hold]:
    """Capture what finished card-paid sessions cost and release the rest; release holds of failed starts."""
    query = (select(Hold, UsageSession).join(UsageSession, Hold.session_id == UsageSession.id)
             .where(Hold.status == HoldStatus.authorized,
                    UsageSession.status.in_([SessionStatus.completed, SessionStatus.failed])))
    done = []
    for hold, session in db.exec(query):
        if session.status == SessionStatus.completed:
            done.append(holds.capture_hold(db, hold, session.amount, provider))
        else:
            done.append(holds.release_hold(db, hold, provider))
    return done


def stop_sessions_with_expiring_holds(db: Session, now: datetime, timeout: int) -> list[UsageSession]:
    """Stop card-paid sessions whose hold nears Stripe's 7-day limit, so they settle before it lapses."""
    stopped = []
    for hold in holds.holds_near_expiry(db, now):
        session = locked_session(db, hold.session_id) if hold.session_id else None
        if session is not None and session.status in (SessionStatus.starting, SessionStatus.active):
            _begin_stop(session, StopReason.remote, now)
            session.review_note = "stopped by the platform: its card hold was about to expire"
            _order(db, db.get(Meter, session.meter_id), session, "open", session.stop_cmd_id,
                   _stop_deadline(session, timeout))
            stopped.append(session)
    return stopped


def session_readings(db: Session, session: UsageSession) -> list[RegisterReading]:
    """Start, every stored reading of the session in arrival order, and stop."""
    start = RegisterReading(session.start_boot_id or "unknown", _seq(session.start_seq, -1),
                            as_utc(session.started_at), session.start_register_wh)
    stop = RegisterReading(session.stop_boot_id or start.boot_id, _seq(session.stop_seq, 2**62),
                           as_utc(session.ended_at), session.stop_register_wh)
    query = (select(MeterReading).where(MeterReading.session_id == session.id,
                                         MeterReading.channel == session.channel).order_by(MeterReading.id))
    middle = [RegisterReading(r.boot_id, r.seq, as_utc(r.device_time), r.energy_wh) for r in db.exec(query)]
    if {r.boot_id for r in middle} <= {start.boot_id}:
        # One boot: the meter's sequence is the true order, whatever order the gateways stored them in.
        middle.sort(key=lambda r: r.seq)
        middle = [r for r in middle if start.seq < r.seq < stop.seq]
    return [start, *middle, stop]


def _seq(seq: int | None, unknown: int) -> int:
    # Meters that omit seq on acks still order correctly: start before, stop after every reading.
    return unknown if seq is None else seq


def _store_lines(db: Session, session: UsageSession, bill: SessionBill) -> None:
    for line in bill.lines:
        db.add(BillLine(session_id=session.id, kind="energy", period=line.period, version=line.version,
                        energy_wh=line.energy_wh, unit_price=line.price_per_kwh, amount=line.amount,
                        starts_at=line.start, ends_at=line.end))
    for fee in bill.fees:
        db.add(BillLine(session_id=session.id, kind="service_fee", period=fee.basis, version=fee.version,
                        energy_wh=fee.energy_wh, unit_price=fee.unit_price, amount=fee.amount))
    if bill.cap:
        db.add(BillLine(session_id=session.id, kind="cap", period="max_amount", version="", energy_wh=None,
                        unit_price=session.max_amount, amount=-bill.cap))


def record_live_reading(db: Session, session: UsageSession, register_wh: int, power_w: float,
                        at: datetime) -> None:
    if session.status != SessionStatus.active or session.start_register_wh is None:
        return
    if session.latest_reading_at is None or at >= as_utc(session.latest_reading_at):
        session.latest_register_wh = max(register_wh, session.start_register_wh)
        session.latest_power_w = power_w
        session.latest_reading_at = at
        tariff = tariff_engine(get_tariff(db, session.tariff_id))
        session.latest_amount = price_so_far(as_utc(session.started_at), session.start_register_wh, at,
                                             session.latest_register_wh, tariff)


def visible_session(db: Session, user: User, session_id: int) -> UsageSession:
    """The session if this user may see it; others' sessions look like missing ones."""
    session = db.get(UsageSession, session_id)
    if session is not None and _may_see(db, user, session):
        return session
    raise SessionNotFound(f"session {session_id} does not exist")


def _may_see(db: Session, user: User, session: UsageSession) -> bool:
    if user.role == Role.operator or session.vendor_id == user.id:
        return True
    return user.role == Role.applicant and points.get_point(db, session.point_id).applicant_id == user.id


def list_sessions(db: Session, user: User, open_only: bool = False, limit: int = 100,
                  needs_review: bool = False) -> list[UsageSession]:
    query = select(UsageSession).order_by(UsageSession.id.desc()).limit(limit)
    if needs_review:
        query = query.where(UsageSession.needs_review.is_(True))
    if user.role == Role.vendor:
        query = query.where(UsageSession.vendor_id == user.id)
    elif user.role == Role.applicant:
        mine = [p.id for p in points.list_points(db, user)]
        query = query.where(UsageSession.point_id.in_(mine))
    if open_only:
        query = query.where(UsageSession.status.in_(OPEN_STATUSES))
    return list(db.exec(query))


def live_energy_wh(session: UsageSession) -> int:
    if session.energy_wh is not None:
        return session.energy_wh
    if session.start_register_wh is None or session.latest_register_wh is None:
        return 0
    return max(session.latest_register_wh - session.start_register_wh, 0)


def live_amount(session: UsageSession) -> Decimal:
    if session.amount is not None:
        return session.amount
    return session.latest_amount or Decimal("0.00")


def _session_by_command(db: Session, meter: Meter, cmd_id: str) -> UsageSession | None:
    query = select(UsageSession).where(
        UsageSession.meter_id == meter.id,
        (UsageSession.start_cmd_id == cmd_id) | (UsageSession.stop_cmd_id == cmd_id))
    return db.exec(query).first()


def _order(db: Session, meter: Meter, session: UsageSession, action: str, cmd_id: str,
           deadline: datetime) -> None:
    limit = session.energy_limit_wh if action == "close" else None
    queue_order(db, RelayOrder(meter_serial=meter.serial, channel=session.channel, action=action,
                               session_id=session.id, cmd_id=cmd_id, energy_limit_wh=limit, deadline=deadline))


def _start_deadline(session: UsageSession, timeout: int) -> datetime:
    return as_utc(session.requested_at) + timedelta(seconds=timeout)


def _stop_deadline(session: UsageSession, timeout: int) -> datetime:
    return as_utc(session.stop_requested_at) + timedelta(seconds=timeout)


def _cmd_id() -> str:
    return uuid.uuid4().hex


def expire_unacknowledged_starts(db: Session, now: datetime, timeout: int) -> list[UsageSession]:
    """Fail sessions whose start the meter never acknowledged, and make sure the relay is open."""
    cutoff = now - timedelta(seconds=timeout)
    query = select(UsageSession.id).where(UsageSession.status == SessionStatus.starting,
                                          UsageSession.requested_at < cutoff)
    failed = []
    for session_id in list(db.exec(query)):
        session = locked_session(db, session_id)
        if session.status != SessionStatus.starting:
            continue  # its ack arrived meanwhile
        failed.append(session)
        session.status = SessionStatus.failed
        session.failure_reason = f"the meter did not acknowledge the start within {timeout} s; nothing was charged"
        session.ended_at = now
        session.stop_cmd_id = _cmd_id()
        _order(db, db.get(Meter, session.meter_id), session, "open", session.stop_cmd_id,
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
        _order(db, db.get(Meter, session.meter_id), session, "close", session.start_cmd_id,
               _start_deadline(session, timeout))
        retried.append(session)
    for session in stopping:
        _order(db, db.get(Meter, session.meter_id), session, "open", session.stop_cmd_id,
               _stop_deadline(session, timeout))
        retried.append(session)
    return retried


def resend_stops_after_reconnect(db: Session, meter: Meter, timeout: int) -> list[UsageSession]:
    """A meter that was away may have refused a stop whose deadline passed: send it again, freshly dated."""
    query = select(UsageSession).where(UsageSession.meter_id == meter.id, UsageSession.status == SessionStatus.stopping)
    pending = list(db.exec(query))
    for session in pending:
        _order(db, meter, session, "open", session.stop_cmd_id, utcnow() + timedelta(seconds=timeout))
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


def finish_from_reading(db: Session, session: UsageSession, register_wh: int, at: datetime, boot_id: str,
                        seq: int) -> None:
    """The meter reports the relay open while the session is open: its stop record never came; end it here."""
    session = locked_session(db, session.id)
    if session.status not in (SessionStatus.active, SessionStatus.stopping):
        return
    log.warning("session %s: meter reports relay open without a stop record; ending it at %s Wh",
                session.id, register_wh)
    session.review_note = "ended from a reading that showed the relay open (no ack or stop record arrived)"
    _finish(db, session, register_wh, at, session.stop_reason or StopReason.meter, boot_id, seq)


def order_relay_open(db: Session, meter: Meter, channel: int, session_id: int, timeout: int) -> None:
    """A relay is closed with no open session: open it (one command id per session, so repeats are no-ops)."""
    session = db.get(UsageSession, session_id)
    if session is None or session.meter_id != meter.id:
        return
    log.warning("meter %s: relay %s closed with no open session; ordering it open", meter.serial, channel)
    _order(db, meter, session, "open", f"rc-{session_id}", utcnow() + timedelta(seconds=timeout))


def last_session_on_outlet(db: Session, meter: Meter, channel: int) -> UsageSession | None:
    query = (select(UsageSession).where(UsageSession.meter_id == meter.id, UsageSession.channel == channel)
             .order_by(UsageSession.id.desc()))
    return db.exec(query).first()
