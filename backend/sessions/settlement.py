"""Settling a session from its meter's registers, and re-settling it when more of the meter's data comes."""
import logging
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import update
from sqlmodel import Session, select

from backend.core import metrics
from backend.core.clock import as_utc, utcnow
from backend.meters.models import Reading as MeterReading
from backend.meters.register_rules import Reading as RegisterReading
from backend.meters.register_rules import outlet_rated_power_w
from backend.points.models import Outlet
from backend.sessions.billed import billed_so_far
from backend.sessions.models import OPEN_STATUSES, BillLine, SessionStatus, UsageSession
from backend.sessions.pricing import SessionBill, price_session
from backend.sessions.reservations import free_balance, spendable_balance
from backend.sessions.service import hold_of, locked_session
from backend.tariffs.service import get_tariff, tariff_engine
from billing.payments import holds
from billing.payments.interface import PaymentProvider
from billing.payments.models import Hold, HoldStatus, Payment, PaymentPurpose, PaymentStatus
from billing.payments.providers import Providers
from billing.payments.refunds import refund
from billing.wallet import arrears
from billing.wallet.charges import charge_adjustment, charge_session
from billing.wallet.service import lock_wallet

log = logging.getLogger(__name__)


# Late readings of a settled session are re-priced once none has come for this long.
REPRICE_QUIET = timedelta(seconds=5)


def settle_session(db: Session, session: UsageSession) -> SessionBill:
    """Price the session's readings per tariff period and debit the wallet; once per session."""
    bill = price_of(db, session)
    session.energy_wh, session.amount = bill.energy_wh, bill.total
    if bill.needs_review or bill.anomalies:
        session.needs_review = bill.needs_review
        session.review_note = "; ".join(a.reason for a in bill.anomalies)[:1000]
        log.warning("session %s settled with register anomalies: %s", session.id, session.review_note)
    flag_over_limit(session)
    _store_lines(db, session, bill)
    hold = hold_of(db, session.id)
    if hold is None or not hold.status.is_open:  # no card, or its hold was released (a revived session)
        lock_wallet(db, session.vendor_id)
        free = spendable_balance(db, session.vendor_id, excluding_session=session.id)
        charged = charge_session(db, session.vendor_id, session.id, session.amount, free)
        flag_owed(session, charged.owed, "its bill")
    paid_by = "wallet" if hold is None or not hold.status.is_open else "hold"
    metrics.money_settled.labels(paid_by).inc(float(session.amount))
    metrics.sessions_settled.labels(paid_by).inc()
    # A card-paid session is captured by the scheduler (capture_settled_holds), outside the gateway.
    session.status = SessionStatus.completed
    collect_arrears(db, session.vendor_id, f"collect:settle:{session.id}")
    return bill


def adjust_after_late_reading(db: Session, session: UsageSession, why: str = "late_reading") -> Decimal:
    """Re-price a settled session with meter data that arrived late; post the difference, never edit the past.

    The energy shown is the meter's latest word; the money keeps its history: the settled lines
    stay and the difference is one more line.
    """
    session = locked_session(db, session.id)
    bill = price_of(db, session)
    session.energy_wh = bill.energy_wh
    flag_over_limit(session)
    difference = bill.total - billed_so_far(db, session)
    if difference:
        entry_key = f"adjust:{session.id}:{_adjustment_count(db, session) + 1}"
        lock_wallet(db, session.vendor_id)
        charged = charge_adjustment(db, session.vendor_id, session.id, difference, entry_key,
                                    spendable_balance(db, session.vendor_id))
        flag_owed(session, charged.owed, "a re-pricing after late meter data")
        db.add(BillLine(session_id=session.id, kind="adjustment", period=why, version=entry_key,
                        energy_wh=None, unit_price=difference, amount=difference))
        log.info("session %s re-priced (%s): %+.2f yuan", session.id, why, difference)
        metrics.money_adjusted.labels("up" if difference > 0 else "down").inc(float(abs(difference)))
    return difference


def flag_over_limit(session: UsageSession) -> None:
    """The meter let more through than the money bought (it did not cut off in time): an operator looks at it.

    The vendor is billed at most `max_amount` whatever the registers show; what lies beyond is the platform's.
    """
    if not session.energy_limit_wh or session.energy_wh is None or session.energy_wh <= session.energy_limit_wh:
        return
    note = (f"the registers show {session.energy_wh} Wh, more than the session's limit of "
            f"{session.energy_limit_wh} Wh: the meter did not cut off in time; the bill is capped at "
            f"¥{session.max_amount}")
    if note not in (session.review_note or ""):
        session.review_note = "; ".join(filter(None, [session.review_note, note]))[:1000]
        log.warning("session %s: %s", session.id, note)
    session.needs_review = True


def price_of(db: Session, session: UsageSession) -> SessionBill:
    """The session priced now from everything its meter reported."""
    outlet = db.get(Outlet, session.outlet_id)
    return price_session(session_readings(db, session), tariff_engine(get_tariff(db, session.tariff_id)),
                         outlet_rated_power_w(outlet.rated_current_a), session.max_amount, outlet.register)


def reprice_later(session: UsageSession, now: datetime) -> None:
    """A reading arrived after settlement: re-price once the meter's backlog has come in, not per reading."""
    session.reprice_due_at = now


def reprice_late_sessions(db: Session, now: datetime, quiet: timedelta = REPRICE_QUIET) -> list[UsageSession]:
    """Re-price settled sessions whose late readings stopped coming `quiet` ago: one adjustment per change."""
    query = select(UsageSession.id).where(UsageSession.reprice_due_at.is_not(None),
                                          UsageSession.reprice_due_at <= now - quiet)
    repriced = []
    for session_id in list(db.exec(query)):
        session = locked_session(db, session_id)
        if session.reprice_due_at is None or as_utc(session.reprice_due_at) > now - quiet:
            continue  # more readings came meanwhile; wait for them
        session.reprice_due_at = None
        adjust_after_late_reading(db, session)
        repriced.append(session)
    return repriced


def settle_unconfirmed_stops(db: Session, now: datetime, after: timedelta) -> list[UsageSession]:
    """Every session ends: one whose stop the meter has not confirmed within `after` is settled from its
    last reading, provisionally and under review; the meter's stop record, if it ever comes, re-settles it."""
    query = select(UsageSession.id).where(UsageSession.status == SessionStatus.stopping,
                                          UsageSession.stop_requested_at < now - after)
    settled = []
    for session_id in list(db.exec(query)):
        session = locked_session(db, session_id)
        if session.status != SessionStatus.stopping or session.start_register_wh is None:
            continue
        last = last_reading_naming(db, session) or start_reading(session)
        session.stop_register_wh = session.latest_register_wh = last.register_wh
        session.stop_boot_id, session.stop_seq = last.boot_id, last.seq
        session.ended_at = session.latest_reading_at = last.time
        session.provisional = session.needs_review = True
        session.review_note = (f"the meter did not confirm the stop within {after}; settled provisionally from its "
                               f"last reading ({last.register_wh} Wh at {last.time.isoformat()})")
        settle_session(db, session)
        settled.append(session)
    return settled


def first_reading_naming(db: Session, session: UsageSession, relay_closed: bool = False) -> RegisterReading | None:
    return _reading_naming(db, session, MeterReading.id, relay_closed)


def last_reading_naming(db: Session, session: UsageSession) -> RegisterReading | None:
    return _reading_naming(db, session, MeterReading.id.desc())


def _reading_naming(db: Session, session: UsageSession, order, relay_closed: bool = False) -> RegisterReading | None:
    query = (select(MeterReading).where(MeterReading.session_id == session.id,
                                        MeterReading.channel == session.channel).order_by(order).limit(1))
    if relay_closed:
        query = query.where(MeterReading.relay_closed.is_(True))
    found = db.exec(query).first()
    if found is None:
        return None
    return RegisterReading(found.boot_id, found.seq, as_utc(found.device_time), found.energy_wh)


def claim_readings(db: Session, session: UsageSession) -> None:
    """Readings of the session's outlet between its start and its true stop that no session owns are its own.

    An outlet serves one session at a time, so whatever it metered then was this session's, even readings
    stored while the platform still thought the session had ended earlier.
    """
    db.flush()
    db.execute(update(MeterReading).where(MeterReading.meter_id == session.meter_id,
                                          MeterReading.channel == session.channel,
                                          MeterReading.session_id.is_(None),
                                          MeterReading.device_time > session.started_at,
                                          MeterReading.device_time < session.ended_at)
               .values(session_id=session.id))


def register_before(db: Session, session: UsageSession) -> RegisterReading | None:
    """The outlet's register just before the session was asked to start: its last reading or session stop."""
    reading = db.exec(select(MeterReading).where(MeterReading.meter_id == session.meter_id,
                                                 MeterReading.channel == session.channel,
                                                 MeterReading.device_time <= session.requested_at)
                      .order_by(MeterReading.device_time.desc(), MeterReading.id.desc()).limit(1)).first()
    stop = db.exec(select(UsageSession).where(UsageSession.outlet_id == session.outlet_id,
                                              UsageSession.status == SessionStatus.completed,
                                              UsageSession.ended_at <= session.requested_at)
                   .order_by(UsageSession.ended_at.desc()).limit(1)).first()
    found = []
    if reading is not None:
        found.append(RegisterReading(reading.boot_id, reading.seq, as_utc(reading.device_time), reading.energy_wh))
    if stop is not None and stop.stop_register_wh is not None:
        found.append(RegisterReading(stop.stop_boot_id or "unknown", seq_or(stop.stop_seq, -1), as_utc(stop.ended_at),
                                     stop.stop_register_wh))
    return max(found, key=lambda r: r.time) if found else None




def flag_owed(session: UsageSession, owed: Decimal, what: str) -> None:
    """A charge the wallet could not cover: the session goes to an operator for review."""
    if owed <= 0:
        return
    note = f"¥{owed} of {what} was more than the wallet had free: owed (arrears), collected from the next top-up"
    session.needs_review = True
    session.review_note = "; ".join(filter(None, [session.review_note, note]))[:1000]
    log.warning("session %s: ¥%s owed by vendor %s (%s)", session.id, owed, session.vendor_id, what)


def collect_arrears(db: Session, vendor_id: int, key: str) -> Decimal:
    """Pay off what the vendor owes from money now free in the wallet, under its lock."""
    lock_wallet(db, vendor_id)
    if not arrears.owed(db, vendor_id):
        return Decimal("0.00")
    return arrears.collect(db, vendor_id, free_balance(db, vendor_id), key)


def _adjustment_count(db: Session, session: UsageSession) -> int:
    query = select(BillLine.id).where(BillLine.session_id == session.id, BillLine.kind == "adjustment")
    return len(list(db.exec(query)))


def capture_settled_holds(db: Session, providers: PaymentProvider | Providers) -> list[Hold]:
    """Capture what finished sessions cost and release the rest; release holds of failed starts, and holds
    confirmed in the app for a session that could not start."""
    providers = Providers.of(providers)
    ended = (select(Hold.session_id).join(UsageSession, Hold.session_id == UsageSession.id)
             .where(Hold.status == HoldStatus.authorized,
                    UsageSession.status.in_([SessionStatus.completed, SessionStatus.failed])))
    # Every session first, in order, then wallets: the lock order of every other transaction.
    sessions = [locked_session(db, session_id) for session_id in sorted(set(db.exec(ended)))]
    done = [settled for session in sessions if (settled := _settle_hold(db, session, providers)) is not None]
    never_started = select(Hold).where(Hold.status == HoldStatus.authorized, Hold.session_id.is_(None),
                                       Hold.outlet_id.is_not(None))
    for hold in list(db.exec(never_started)):
        lock_wallet(db, hold.user_id)
        hold = holds.hold_by_intent(db, hold.external_id)
        if hold.status.is_open and hold.session_id is None:  # not started from meanwhile
            done.append(holds.release_hold(db, hold, providers.named(hold.provider)))
    return done


def _settle_hold(db: Session, session: UsageSession, providers: Providers) -> Hold | None:
    """Capture the bill of a finished session from its hold, or release the hold of one that never ran.

    Decided on the session and the hold as they are now, both locked: another gateway's scheduler may
    have settled the hold meanwhile, or a failed session been revived and settled.
    """
    lock_wallet(db, session.vendor_id)
    hold = hold_of(db, session.id)
    hold = holds.hold_by_intent(db, hold.external_id) if hold is not None else None
    if hold is None or not hold.status.is_open or session.status not in (SessionStatus.completed,
                                                                          SessionStatus.failed):
        return None
    provider = providers.named(hold.provider)
    if session.status == SessionStatus.failed:
        return holds.release_hold(db, hold, provider)
    owed_before = arrears.owed(db, session.vendor_id)
    free = spendable_balance(db, session.vendor_id, excluding_session=session.id)
    captured = holds.capture_hold(db, hold, session.amount, provider, free)
    flag_owed(session, arrears.owed(db, session.vendor_id) - owed_before, "its bill below the card minimum")
    return captured


UNUSED = "unused part of a session paid ahead, back the way it came 原路退回"
NEVER_STARTED = "paid ahead for a session that never started: all of it back 原路退回"


def refund_unused_prepayments(db: Session, providers: PaymentProvider | Providers) -> list[Payment]:
    """Send back at once what sessions paid ahead did not use: all of it when the session never ran."""
    providers = Providers.of(providers)
    running = select(UsageSession.id).where(UsageSession.status.in_(OPEN_STATUSES))
    query = (select(Payment.id, Payment.session_id).where(Payment.purpose == PaymentPurpose.session,
                                                          Payment.status == PaymentStatus.succeeded,
                                                          Payment.settled_at.is_(None))
             .where(Payment.session_id.is_(None) | Payment.session_id.not_in(running)).order_by(Payment.id))
    found = list(db.exec(query))
    # Every session first, in order, then wallets: the lock order of every other transaction.
    sessions = {sid: locked_session(db, sid) for sid in sorted(sid for _, sid in found if sid is not None)}
    done = []
    for payment_id, session_id in found:
        session = sessions.get(session_id)
        payment = db.get(Payment, payment_id)
        lock_wallet(db, payment.user_id)
        payment = db.get(Payment, payment_id, populate_existing=True)
        if payment.settled_at is not None or (session is not None and session.status.is_open):
            continue  # settled meanwhile, or still running (its bill is not known yet)
        used = billed_so_far(db, session) if session is not None and session.status == SessionStatus.completed \
            else Decimal("0.00")
        unused = payment.amount - used
        if unused > 0:
            refund(db, payment, unused, UNUSED if used else NEVER_STARTED, providers.named(payment.provider))
        payment.settled_at = utcnow()
        db.add(payment)
        done.append(payment)
    return done


def session_readings(db: Session, session: UsageSession) -> list[RegisterReading]:
    """Start, every stored reading of the session in arrival order, and stop."""
    start = start_reading(session)
    stop = RegisterReading(session.stop_boot_id or start.boot_id, seq_or(session.stop_seq, 2**62),
                           as_utc(session.ended_at), session.stop_register_wh)
    query = (select(MeterReading).where(MeterReading.session_id == session.id,
                                         MeterReading.channel == session.channel).order_by(MeterReading.id))
    middle = [RegisterReading(r.boot_id, r.seq, as_utc(r.device_time), r.energy_wh) for r in db.exec(query)]
    if {r.boot_id for r in middle} <= {start.boot_id}:
        # One boot: the meter's sequence is the true order, whatever order the gateways stored them in.
        middle.sort(key=lambda r: r.seq)
        middle = [r for r in middle if start.seq < r.seq < stop.seq]
    return [start, *middle, stop]


def seq_or(seq: int | None, unknown: int) -> int:
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


def start_reading(session: UsageSession) -> RegisterReading:
    return RegisterReading(session.start_boot_id or "unknown", seq_or(session.start_seq, -1),
                           as_utc(session.started_at), session.start_register_wh)
