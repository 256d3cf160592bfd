"""A card-held session through the API (POST /api/v1/sessions): held at start, run by the meter, stopped, the bill
captured and the rest released; the receipt and the ledger agree."""
from datetime import timedelta
from decimal import Decimal

from sqlmodel import Session

from backend.app import API_PREFIX
from backend.core.clock import utcnow
from backend.core.db import unit_of_work
from backend.meters.orders import RecordingSink
from backend.points import service as points
from backend.points.models import Meter
from backend.sessions import meter_events
from backend.sessions.models import UsageSession
from backend.sessions.settlement import capture_settled_holds
from billing.payments.models import HoldStatus
from billing.wallet.service import wallet_balance
from tests import factories


def signed_in(client, vendor) -> dict:
    answer = client.post(f"{API_PREFIX}/auth/token", data={"username": vendor.phone, "password": "password-123"})
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def outlet_token(db) -> str:
    point, _ = factories.active_point(db, outlets=1, price=Decimal("1.0000"), outlet_rated_current_a=Decimal("32"))
    token = points.outlets_of_point(db, point.id)[0].qr_token
    db.commit()
    return token


def meter_acknowledges(engine, session_id: int, command: str, register_wh: int, at) -> None:
    with unit_of_work(engine, RecordingSink()) as db:
        session = db.get(UsageSession, session_id)
        cmd_id, action = (session.start_cmd_id, "close") if command == "start" else (session.stop_cmd_id, "open")
        meter_events.command_acknowledged(db, db.get(Meter, session.meter_id), cmd_id, action, True, None,
                                          register_wh, at, "b", 1 if command == "start" else 2)


def test_a_session_held_on_a_card_through_the_api_captures_only_its_bill(client, db, engine, vendor, provider,
                                                                          stripe_api):
    auth, token = signed_in(client, vendor), outlet_token(db)

    started = client.post(f"{API_PREFIX}/sessions", headers=auth,
                          json={"outlet_token": token, "provider": "card", "hold_amount": "30.00"})

    assert started.status_code == 201, started.text
    session = started.json()
    assert session["energy_limit_wh"] == 30_000 and session["max_amount"] == "30.00"
    meter_acknowledges(engine, session["id"], "start", 5_000, utcnow() - timedelta(hours=2))
    assert client.post(f"{API_PREFIX}/sessions/{session['id']}/stop", headers=auth).status_code == 200
    meter_acknowledges(engine, session["id"], "stop", 12_250, utcnow())
    with unit_of_work(engine, RecordingSink()) as work:
        [hold] = capture_settled_holds(work, provider)
    assert (hold.status, hold.captured_amount) == (HoldStatus.captured, Decimal("7.25"))
    charge = stripe_api.charge_of(hold.external_id)
    assert charge["amount"] - charge.get("amount_refunded", 0) == 725
    receipt = client.get(f"{API_PREFIX}/sessions/{session['id']}/receipt", headers=auth).json()
    assert receipt["total"] == "7.25" and receipt["session"]["energy_wh"] == 7_250
    with Session(engine) as fresh:
        assert wallet_balance(fresh, vendor.id) == 0  # the card paid, not the wallet


def test_a_card_hold_below_stripes_minimum_is_refused_before_anything_switches_on(client, db, vendor, stripe_api):
    auth, token = signed_in(client, vendor), outlet_token(db)

    refused = client.post(f"{API_PREFIX}/sessions", headers=auth,
                          json={"outlet_token": token, "provider": "card", "hold_amount": "1.00"})

    assert refused.status_code == 400 and refused.json()["error"] == "HoldTooSmall"
    assert client.get(f"{API_PREFIX}/sessions", headers=auth).json()["count"] == 0
