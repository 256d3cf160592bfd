"""Money back to the card under attack: simultaneous withdrawals and refunds never send back more than was paid."""
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from sqlmodel import Session

from backend.core.clock import utcnow
from backend.core.db import unit_of_work
from backend.meters.orders import RecordingSink, pending_orders
from backend.points import service as points
from backend.sessions import meter_events, settlement
from backend.sessions import service as sessions
from backend.users.models import Role, User
from billing.ledger import service as ledger
from billing.payments.service import top_up
from billing.payments.stripe_provider import REFUND_MARK
from billing.wallet.service import wallet_account, wallet_balance
from tests import factories
from tests.attacks.conftest import PASSWORD, at_once, refusals, tally
from tests.live_server import serve


@pytest.fixture
def api(app):
    with serve(app) as base_url:
        yield base_url


def sign_in(api: str, user: User) -> dict[str, str]:
    answer = httpx.post(f"{api}/api/v1/auth/token", data={"username": user.phone, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def post(api: str, path: str, auth: dict, body: dict) -> httpx.Response:
    return httpx.post(f"{api}/api/v1{path}", headers=auth, json=body, timeout=60)


def refunded_fen(stripe_api, payment_intent_id: str) -> int:
    """What our refunds sent back (localstripe also lists the release of a partial capture as a refund)."""
    return sum(r["amount"] for r in stripe_api.refunds(payment_intent_id) if REFUND_MARK in (r.get("metadata") or {}))


@pytest.fixture
def half_spent(engine, provider):
    """A vendor who topped up ¥100 by card and has spent ¥50 of it."""
    with Session(engine, expire_on_commit=False) as db:
        vendor = factories.user(db, Role.vendor)
        payment = top_up(db, vendor.id, Decimal("100.00"), provider)
        ledger.transfer(db, "spent-in-test", "settlement", wallet_account(db, vendor.id),
                        ledger.account(db, ledger.REVENUE, "revenue"), Decimal("50.00"))
        db.commit()
    return vendor, payment


def test_two_withdrawals_at_once_send_back_only_what_is_left(api, engine, half_spent, stripe_api, figures):
    vendor, payment = half_spent
    auth = sign_in(api, vendor)
    answers = at_once([lambda: post(api, "/wallet/withdrawals", auth, {"amount": "50.00"}) for _ in range(2)])
    assert sorted(a.status_code for a in answers) == [201, 409], [a.text for a in answers]
    assert refunded_fen(stripe_api, payment.external_id) == 5000
    with Session(engine) as db:
        assert wallet_balance(db, vendor.id) == Decimal("0.00")
    figures(f"2 withdrawals of ¥50.00 at once: {tally(answers)}; ¥50.00 refunded to the card")


def test_many_withdrawals_of_everything_at_once_empty_the_wallet_once(api, engine, half_spent, stripe_api, figures):
    vendor, payment = half_spent
    auth = sign_in(api, vendor)
    answers = at_once([lambda: post(api, "/wallet/withdrawals", auth, {}) for _ in range(6)])
    assert sorted(a.status_code for a in answers) == [201] + [409] * 5, [a.text for a in answers]
    assert refunded_fen(stripe_api, payment.external_id) == 5000
    figures(f"6 withdrawals of everything free at once: {tally(answers)}; ¥50.00 refunded to the card")


def test_simultaneous_refunds_of_a_card_paid_session_never_exceed_the_capture(api, engine, provider, stripe_api,
                                                                             figures):
    with unit_of_work(engine, RecordingSink()) as db:
        point, meter = factories.active_point(db, outlets=1, price=Decimal("1.0000"))
        vendor = factories.user(db, Role.vendor)
        operator = factories.user(db, Role.operator)
        session = sessions.start_session(db, vendor, points.outlets_of_point(db, point.id)[0].qr_token,
                                         Decimal("1.00"), 30, Decimal("20.00"), provider)
        meter_events.command_acknowledged(db, meter, session.start_cmd_id, "close", True, None, 1_000,
                                      utcnow() - timedelta(hours=2), "b", 1)
        sessions.request_stop(db, vendor, session.id, 30)
        stop = pending_orders(db)[-1]
        meter_events.command_acknowledged(db, meter, stop.cmd_id, "open", True, None, 6_000, utcnow(), "b", 2)
        [hold] = settlement.capture_settled_holds(db, provider)
    assert hold.captured_amount == Decimal("5.00")
    auth = sign_in(api, operator)
    answers = at_once([lambda: post(api, f"/sessions/{session.id}/refunds", auth,
                                    {"amount": "1.00", "reason": "outlet fault"}) for _ in range(8)])
    assert sorted(a.status_code for a in answers) == [201] * 5 + [409] * 3, [a.text for a in answers]
    assert refusals(answers) == {"RefundNotPossible": 3}
    assert refunded_fen(stripe_api, hold.payment_intent_id) == 500
    with Session(engine) as db:
        assert wallet_balance(db, vendor.id) == Decimal("0.00")  # all of it went back to the card
    figures(f"8 refunds of ¥1.00 at once: {tally(answers)}; ¥5.00 refunded to the card, nothing to the wallet")
