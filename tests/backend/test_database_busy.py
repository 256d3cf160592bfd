"""A request that waits too long for a lock answers 503 with Retry-After, moves nothing, and the retry works."""
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from backend.app import create_app
from backend.core.db import make_engine
from backend.meters.orders import RecordingSink
from backend.users.models import Role
from billing.wallet.service import lock_wallet, wallet_balance
from tests import factories
from tests.attacks.conftest import PASSWORD


@pytest.fixture
def impatient_engine(database_url):
    engine = make_engine(database_url, lock_timeout_s=0.3)
    yield engine
    engine.dispose()


def test_a_held_wallet_lock_makes_a_withdrawal_answer_503_and_move_nothing(settings, engine, impatient_engine):
    with Session(engine, expire_on_commit=False) as db:
        vendor = factories.user(db, Role.vendor, Decimal("10.00"))
        db.commit()
    with TestClient(create_app(settings, impatient_engine, RecordingSink(), lambda: True)) as http:
        token = http.post("/api/v1/auth/token", data={"username": vendor.phone, "password": PASSWORD}).json()
        auth = {"Authorization": f"Bearer {token['access_token']}"}
        with Session(engine) as holder:
            lock_wallet(holder, vendor.id)  # another transaction is deciding about this wallet
            busy = http.post("/api/v1/wallet/withdrawals", headers=auth, json={"amount": "4.00"})
            assert busy.status_code == 503, busy.text
            assert busy.headers["Retry-After"] == "1"
            assert busy.json()["error"] == "DatabaseUnavailable"
            holder.rollback()
        retried = http.post("/api/v1/wallet/withdrawals", headers=auth, json={"amount": "4.00"})
        assert retried.status_code == 201, retried.text
    with Session(engine) as db:
        assert wallet_balance(db, vendor.id) == Decimal("6.00")
