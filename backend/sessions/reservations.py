"""What a vendor's wallet money is committed to, so that no decision spends it twice.

Reserved, while it lasts: the most each open wallet-paid session may still cost; a payment made ahead
for a session until its unused part has gone back; the bill an open card hold may charge to the wallet
instead (below the provider's minimum); and arrears, what the vendor owes. Exact only while the
wallet is locked (`lock_wallet`); otherwise a display figure.
"""
from decimal import Decimal

from sqlmodel import Session, select

from backend.core.clock import as_utc
from backend.sessions.billed import billed_so_far
from backend.sessions.models import OPEN_STATUSES, SessionStatus, UsageSession
from backend.tariffs.service import get_tariff, tariff_engine
from billing.payments.models import Hold, HoldStatus, Payment, PaymentPurpose, PaymentStatus
from billing.pricing import energy_amount
from billing.wallet.arrears import owed
from billing.wallet.service import wallet_balance

ZERO = Decimal("0.00")
FEN = Decimal("0.01")


def spendable_balance(db: Session, vendor_id: int, excluding_session: int | None = None) -> Decimal:
    """The wallet balance less everything reserved and owed; what a Start or a withdrawal may use.

    `excluding_session`: leave out what that session reserves (it is being charged now).
    """
    return free_balance(db, vendor_id, excluding_session) - owed(db, vendor_id)


def free_balance(db: Session, vendor_id: int, excluding_session: int | None = None) -> Decimal:
    """The wallet balance less what sessions, payments ahead and holds reserve (arrears not deducted)."""
    reserved = (_open_wallet_sessions(db, vendor_id, excluding_session) + _unsettled_prepayments(db, vendor_id,
                excluding_session) + _open_holds(db, vendor_id, excluding_session))
    return wallet_balance(db, vendor_id) - reserved


def most_it_can_cost(db: Session, session: UsageSession) -> Decimal:
    if session.max_amount is not None:
        return session.max_amount
    # Sessions started before max_amount was recorded (migration 0008).
    dearest = tariff_engine(get_tariff(db, session.tariff_id)).highest_price_from(as_utc(session.requested_at))
    return energy_amount(session.energy_limit_wh, dearest)


def hold_reserve(hold: Hold, session: UsageSession) -> Decimal:
    """What an open hold may still charge to the wallet: a bill below the provider's minimum capture."""
    if hold.status is not HoldStatus.authorized or hold.minimum_capture <= FEN:
        return ZERO
    if session.status in OPEN_STATUSES:
        bound = session.max_amount if session.max_amount is not None else hold.amount
        return min(bound, hold.minimum_capture - FEN)
    if session.status == SessionStatus.completed and session.amount < hold.minimum_capture:
        return session.amount
    return ZERO


def _open_wallet_sessions(db: Session, vendor_id: int, excluding: int | None) -> Decimal:
    """Open sessions paid from the wallet (a hold backs the others): the most each may cost, or its payment ahead."""
    by_hold = select(Hold.session_id).where(Hold.session_id.is_not(None))
    query = select(UsageSession).where(UsageSession.vendor_id == vendor_id, UsageSession.status.in_(OPEN_STATUSES),
                                       UsageSession.id.not_in(by_hold))
    sessions = [s for s in db.exec(query) if s.id != excluding]
    prepaid = _paid_ahead(db, [s.id for s in sessions])
    return sum((max(most_it_can_cost(db, s), prepaid.get(s.id, ZERO)) for s in sessions), ZERO)


def _paid_ahead(db: Session, session_ids: list[int]) -> dict[int, Decimal]:
    if not session_ids:
        return {}
    query = select(Payment.session_id, Payment.amount).where(Payment.session_id.in_(session_ids),
                                                             Payment.purpose == PaymentPurpose.session,
                                                             Payment.status == PaymentStatus.succeeded)
    return {session_id: amount for session_id, amount in db.exec(query)}


def _unsettled_prepayments(db: Session, vendor_id: int, excluding: int | None) -> Decimal:
    """Payments ahead of sessions no longer open whose unused part has not gone back yet."""
    query = (select(Payment, UsageSession).outerjoin(UsageSession, Payment.session_id == UsageSession.id)
             .where(Payment.user_id == vendor_id, Payment.purpose == PaymentPurpose.session,
                    Payment.status == PaymentStatus.succeeded, Payment.settled_at.is_(None)))
    total = ZERO
    for payment, session in db.exec(query):
        if session is not None and (session.status in OPEN_STATUSES or session.id == excluding):
            continue  # counted with the open sessions, or being charged now
        used = billed_so_far(db, session) if session is not None and session.status == SessionStatus.completed \
            else ZERO
        total += max(payment.amount - used, ZERO)
    return total


def _open_holds(db: Session, vendor_id: int, excluding: int | None) -> Decimal:
    query = (select(Hold, UsageSession).join(UsageSession, Hold.session_id == UsageSession.id)
             .where(Hold.user_id == vendor_id, Hold.status == HoldStatus.authorized))
    return sum((hold_reserve(hold, session) for hold, session in db.exec(query) if session.id != excluding), ZERO)
