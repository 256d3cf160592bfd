"""Card holds under attack (localstripe, real HTTP): capture, release, refunds and withdrawals of one session at once.

Each gateway runs the scheduler, so several `capture_settled_holds` may meet one hold, beside an
operator's refunds, the vendor's withdrawals and the meter's late messages. Whatever the interleaving:
a hold is settled once, a session is paid exactly once, refunds never exceed what was captured, the
wallet never goes below zero and the ledger sums to zero.
"""
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlmodel import Session, select

from backend.core.clock import utcnow
from backend.core.db import unit_of_work
from backend.meters.orders import RecordingSink, pending_orders
from backend.points import service as points
from backend.points.models import Meter
from backend.sessions import meter_events, timeouts
from backend.sessions import service as sessions
from backend.sessions.models import UsageSession
from backend.sessions.refunds import refunded
from backend.sessions.settlement import capture_settled_holds
from backend.users.models import Role, User
from billing.ledger import service as ledger
from billing.ledger.models import JournalEntry, Posting
from billing.payments.models import Hold, HoldStatus
from billing.payments.refunds import refunded_total
from billing.payments.service import top_up
from billing.wallet.arrears import owed
from billing.wallet.service import wallet_balance
from tests import factories
from tests.attacks.conftest import at_once, refusals, tally, wallets_below_zero
from tests.billing.stripe.test_stripe_races import post, refunded_fen, sign_in
from tests.live_server import serve

ZERO = Decimal("0.00")
PAID_BY = ("settlement", "hold_capture", "hold_wallet_charge")


@pytest.fixture
def api(app):
    with serve(app) as base_url:
        yield base_url


def card_session(engine, provider, wallet: str = "0.00", used_wh: int | None = None) -> tuple[int, int, int]:
    """A session held ¥20.00 on the card; settled from `used_wh` at ¥1.00/kWh, or left failed (no start ack)."""
    with unit_of_work(engine, RecordingSink()) as db:
        point, meter = factories.active_point(db, outlets=1, price=Decimal("1.0000"))
        vendor = factories.user(db, Role.vendor)
        if Decimal(wallet):
            top_up(db, vendor.id, Decimal(wallet), provider)
        operator = factories.user(db, Role.operator)
        session = sessions.start_session(db, vendor, points.outlets_of_point(db, point.id)[0].qr_token,
                                         Decimal("1.00"), 30, Decimal("20.00"), provider)
        if used_wh is None:
            timeouts.expire_unacknowledged_starts(db, utcnow() + timedelta(seconds=31), 30)
        else:
            meter_events.command_acknowledged(db, meter, session.start_cmd_id, "close", True, None, 1_000,
                                              utcnow() - timedelta(hours=2), "b", 1)
            sessions.request_stop(db, vendor, session.id, 30)
            meter_events.command_acknowledged(db, meter, pending_orders(db)[-1].cmd_id, "open", True, None,
                                              1_000 + used_wh, utcnow(), "b", 2)
        return vendor.id, operator.id, session.id


def scheduler(engine, provider, after_s: float = 0):
    """One gateway's capture job, as the scheduler runs it (`after_s` later than the others are released)."""
    def run() -> list[Hold]:
        time.sleep(after_s)
        with unit_of_work(engine, RecordingSink()) as db:
            return capture_settled_holds(db, provider)
    return run


@pytest.fixture(autouse=True)
def no_wallet_ever_below_zero(engine):
    yield
    with Session(engine) as db:
        assert wallets_below_zero(db) == {}


def paid_for(db, session_id: int) -> Decimal:
    """What the session's bill brought into revenue: its settlement, capture and wallet charges."""
    revenue = ledger.account(db, ledger.REVENUE, "revenue")
    total = db.exec(select(Posting.amount).join(JournalEntry, Posting.entry_id == JournalEntry.id)
                    .where(JournalEntry.session_id == session_id, JournalEntry.kind.in_(PAID_BY),
                           Posting.account_id == revenue.id)).all()
    return sum(total, ZERO)


def state(engine, vendor_id: int, session_id: int):
    with Session(engine) as db:
        session = db.get(UsageSession, session_id)
        hold = db.exec(select(Hold).where(Hold.session_id == session_id)).one()
        return (session, hold, paid_for(db, session_id), refunded(db, session), wallet_balance(db, vendor_id),
                owed(db, vendor_id))


def test_captures_racing_refunds_of_one_card_session_refund_only_what_was_captured(api, engine, provider,
                                                                                   stripe_api, figures):
    vendor_id, operator_id, session_id = card_session(engine, provider, used_wh=5_000)
    with Session(engine) as db:
        auth = sign_in(api, db.get(User, operator_id))
    refund = {"amount": "1.00", "reason": "outlet fault"}
    answers = at_once([scheduler(engine, provider, after_s) for after_s in (0, 0, 0.03, 0.1)]
                      + [lambda: post(api, f"/sessions/{session_id}/refunds", auth, refund) for _ in range(8)])
    captures, refunds = answers[:4], answers[4:]
    assert not [a for a in captures if isinstance(a, Exception)], captures
    with Session(engine) as db:
        assert len(db.exec(select(JournalEntry).where(JournalEntry.kind == "hold_capture")).all()) == 1
    assert {r.status_code for r in refunds} <= {201, 409}, [r.text for r in refunds]
    assert set(refusals(refunds)) <= {"RefundNotPossible"}  # before the capture, or beyond what is left
    made = sum(r.status_code == 201 for r in refunds)
    later = [post(api, f"/sessions/{session_id}/refunds", auth, refund) for _ in range(6 - made)]
    session, hold, paid, given_back, wallet, debt = state(engine, vendor_id, session_id)
    figures(f"4 captures racing 8 refunds of ¥1.00: {tally(refunds)}, then {tally(later)}; "
          f"¥{given_back} refunded of ¥{hold.captured_amount} captured")
    assert (hold.status, hold.captured_amount, paid) == (HoldStatus.captured, Decimal("5.00"), Decimal("5.00"))
    assert [r.status_code for r in later] == [201] * (5 - made) + [409]
    assert given_back == Decimal("5.00") and refunded_fen(stripe_api, hold.external_id) == 500
    assert (wallet, debt) == (ZERO, ZERO)  # all of it went back to the card


def test_a_failed_start_revived_while_schedulers_settle_its_hold_is_paid_exactly_once(api, engine, provider,
                                                                                     figures):
    vendor_id, operator_id, session_id = card_session(engine, provider, wallet="2.00")
    with Session(engine) as db:
        session = db.get(UsageSession, session_id)
        meter = db.get(Meter, session.meter_id)
        auth = sign_in(api, db.get(User, operator_id))
    start_cmd, stop_cmd = session.start_cmd_id, session.stop_cmd_id

    def meter_proves_it_ran() -> None:
        """The late ok ack of the start (revives it), then the ack of the stop: ¥6.50 used."""
        for action, cmd, register, at in (("close", start_cmd, 1_000, utcnow() - timedelta(hours=2)),
                                          ("open", stop_cmd, 7_500, utcnow())):
            with unit_of_work(engine, RecordingSink()) as db:
                meter_events.command_acknowledged(db, db.get(Meter, meter.id), cmd, action, True, None, register, at,
                                                  "b", 1 if action == "close" else 2)

    refund = {"reason": "outlet fault"}
    answers = at_once([scheduler(engine, provider, after_s) for after_s in (0, 0, 0.03, 0.1)] + [meter_proves_it_ran]
                      + [lambda: post(api, f"/sessions/{session_id}/refunds", auth, refund) for _ in range(3)])
    assert not [a for a in answers[:5] if isinstance(a, Exception)], answers[:5]
    assert {r.status_code for r in answers[5:]} <= {201, 409} and set(refusals(answers[5:])) <= {"RefundNotPossible"}
    scheduler(engine, provider)()  # whatever was left for the next round
    session, hold, paid, given_back, wallet, debt = state(engine, vendor_id, session_id)
    figures(f"4 captures racing the revival and 3 refunds ({tally(answers[5:])}): hold {hold.status.value} "
            f"(¥{hold.captured_amount} captured), bill ¥{session.amount} paid ¥{paid}, wallet ¥{wallet}, "
            f"owed ¥{debt}, refunded ¥{given_back}")
    assert session.amount == Decimal("6.50") and session.needs_review
    assert paid == session.amount  # paid once: captured, or (hold released first) from the wallet and owed
    assert hold.status in (HoldStatus.captured, HoldStatus.released)
    assert wallet >= ZERO and debt >= ZERO and given_back <= session.amount
    with Session(engine) as db:
        to_card = refunded_total(db, hold.external_id)
    # The wallet paid what the card did not, and got back what was not refunded to the card.
    assert wallet - debt == Decimal("2.00") - (paid - hold.captured_amount) + (given_back - to_card)


def test_withdrawals_racing_the_capture_of_a_bill_below_the_minimum_never_overdraw(api, engine, provider, figures):
    vendor_id, _, session_id = card_session(engine, provider, wallet="5.00", used_wh=1_500)
    with Session(engine) as db:
        auth = sign_in(api, db.get(User, vendor_id))
    answers = at_once([scheduler(engine, provider, after_s) for after_s in (0, 0.03, 0.1)]
                      + [lambda: post(api, "/wallet/withdrawals", auth, {}) for _ in range(5)])
    withdrawals = answers[3:]
    assert not [a for a in answers[:3] if isinstance(a, Exception)], answers[:3]
    assert {w.status_code for w in withdrawals} <= {201, 409} and set(refusals(withdrawals)) <= {
        "NotThatMuchToWithdraw"}
    sent = sum((Decimal(w.json()["sent"]) for w in withdrawals if w.status_code == 201), ZERO)
    session, hold, paid, _, wallet, debt = state(engine, vendor_id, session_id)
    figures(f"3 captures of a ¥1.50 bill racing 5 withdrawals of everything: {tally(withdrawals)}, "
          f"¥{sent} withdrawn, hold {hold.status.value}, wallet ¥{wallet}, owed ¥{debt}")
    assert hold.status is HoldStatus.charged_to_wallet and paid == Decimal("1.50")
    assert (sent, wallet, debt) == (Decimal("3.50"), ZERO, ZERO)  # the ¥1.50 bill was kept for, and paid
