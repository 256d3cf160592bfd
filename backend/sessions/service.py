"""The session lifecycle as the vendor, the operator and the applicant drive it: start, stop, who sees what."""
from datetime import datetime
from decimal import Decimal

from sqlmodel import Session, select

from backend.audit.service import record, snapshot
from backend.core import log_context
from backend.core.clock import local_today, utcnow
from backend.core.errors import Conflict, Forbidden, NotFound
from backend.core.rows import insert_once, lock_row
from backend.points import service as points
from backend.points.models import Meter, Outlet
from backend.points.rules import refusal_to_serve
from backend.sessions.commands import new_cmd_id, order, start_deadline, stop_deadline
from backend.sessions.models import OPEN_SESSION_SQL, OPEN_STATUSES, SessionStatus, StopReason, UsageSession
from backend.sessions.reservations import spendable_balance
from backend.tariffs.service import get_tariff, price_now, tariff_engine
from backend.users.models import Role, User
from billing.budget import SessionBudget, session_budget
from billing.payments import holds
from billing.payments.interface import PaymentProvider
from billing.payments.models import Hold, Payment
from billing.tariffs import Tariff as TariffEngine
from billing.wallet.service import lock_wallet


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
                  command_timeout: int, hold_amount: Decimal | None = None, provider: PaymentProvider | None = None,
                  *, paid: Hold | Payment | None = None) -> UsageSession:
    """Open a session on the scanned outlet and order its relay closed.

    The money that buys the energy limit: with `hold_amount`, a hold placed now through `provider`
    (a card); with `paid`, a hold the vendor confirmed in the app or a payment made ahead for this
    session; otherwise the wallet's spendable balance. Either way the limit covers every fee, so the
    meter cuts off before the money runs out.
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
    if hold_amount is not None and not _holds_at_once(provider):
        raise CardPaymentsUnavailable("card payments are not set up here; pay from your wallet")
    now = utcnow()
    session = UsageSession(outlet_id=outlet.id, point_id=point.id, meter_id=meter.id, vendor_id=vendor.id,
                           channel=outlet.channel, tariff_id=tariff.id,
                           price_per_kwh=price_now(tariff, now).price_per_kwh, energy_limit_wh=0,
                           start_cmd_id=new_cmd_id())
    # The outlet is claimed before the wallet is locked: every transaction takes a session before its wallet.
    session = _insert_claiming_outlet(db, session)
    engine = tariff_engine(tariff)
    if paid is not None:
        budget = _budget_or_refusal(paid.amount, "the payment", engine, now)
        paid.session_id = session.id
        db.add(paid)
    elif hold_amount is None:
        budget = _wallet_budget(db, vendor.id, min_balance, engine, now)
    else:
        budget = _budget_or_refusal(hold_amount, "the card hold", engine, now)
        holds.place_hold(db, vendor.id, hold_amount, provider, session_id=session.id,
                         idempotency_key=f"hold:session:{session.id}")
    session.energy_limit_wh, session.max_amount = budget.energy_limit_wh, budget.max_amount
    order(db, meter, session, "close", session.start_cmd_id, start_deadline(session, command_timeout))
    return session


def _holds_at_once(provider: PaymentProvider | None) -> bool:
    return provider is not None and provider.capabilities.hold and provider.capabilities.instant


def check_startable(db: Session, outlet_token: str, money: Decimal) -> Outlet:
    """Refuse a payment for a session that could not start now, before any money is asked for."""
    outlet = points.outlet_by_token(db, outlet_token)
    refusal = outlet_refusal(db, outlet)
    if refusal is not None:
        raise refusal
    tariff = tariff_engine(get_tariff(db, points.get_point(db, outlet.point_id).tariff_id))
    _budget_or_refusal(money, "the payment", tariff, utcnow())
    return outlet


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
        before = snapshot(session, SESSION_AUDIT)
        begin_stop(session, _stopped_by(actor, session), utcnow())
        record(db, actor, "session.stop", "session", session.id, before, snapshot(session, SESSION_AUDIT))
    order(db, db.get(Meter, session.meter_id), session, "open", session.stop_cmd_id,
           stop_deadline(session, command_timeout))
    return session


SESSION_AUDIT = ("status", "stop_reason")


def _stopped_by(actor: User, session: UsageSession) -> StopReason:
    if actor.id == session.vendor_id:
        return StopReason.vendor
    return StopReason.applicant if actor.role == Role.applicant else StopReason.remote


def begin_stop(session: UsageSession, reason: StopReason, now: datetime) -> None:
    session.status = SessionStatus.stopping
    session.stop_cmd_id = new_cmd_id()
    session.stop_requested_at = now
    session.stop_reason = reason


def stop_sessions_at_point(db: Session, point_id: int, reason: StopReason, timeout: int) -> list[UsageSession]:
    """End every open session of a point that closed or expired, through the normal stop path."""
    query = select(UsageSession.id).where(UsageSession.point_id == point_id, UsageSession.status.in_(OPEN_STATUSES))
    stopped = []
    for session_id in list(db.exec(query)):
        session = locked_session(db, session_id)
        if session.status in (SessionStatus.starting, SessionStatus.active):
            begin_stop(session, reason, utcnow())
        if session.status == SessionStatus.stopping:
            order(db, db.get(Meter, session.meter_id), session, "open", session.stop_cmd_id,
                   stop_deadline(session, timeout))
            stopped.append(session)
    return stopped


def locked_session(db: Session, session_id: int) -> UsageSession:
    """The session as committed now, held until the transaction ends: its state changes one at a time."""
    log_context.add(session_id=session_id)
    lock_row(db, UsageSession, session_id)
    return db.get(UsageSession, session_id, populate_existing=True)


def hold_of(db: Session, session_id: int) -> Hold | None:
    return db.exec(select(Hold).where(Hold.session_id == session_id)).first()


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


def last_session_on_outlet(db: Session, meter: Meter, channel: int) -> UsageSession | None:
    query = (select(UsageSession).where(UsageSession.meter_id == meter.id, UsageSession.channel == channel)
             .order_by(UsageSession.id.desc()))
    return db.exec(query).first()
