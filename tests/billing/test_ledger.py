from decimal import Decimal

import pytest

from backend.users.models import Role
from billing.ledger import service as ledger
from billing.payments.providers import DemoProvider
from billing.payments.service import top_up
from billing.wallet.service import wallet_balance
from tests import factories


def test_an_unbalanced_entry_is_refused(db):
    a = ledger.account(db, "a", "test")
    b = ledger.account(db, "b", "test")
    with pytest.raises(ledger.UnbalancedEntry):
        ledger.post(db, "k1", "test", [(a, Decimal("-1.00")), (b, Decimal("0.99"))])


def test_an_entry_is_written_once_per_key(db):
    a = ledger.account(db, "a", "test")
    b = ledger.account(db, "b", "test")
    first = ledger.transfer(db, "k", "test", a, b, Decimal("2.50"))
    again = ledger.transfer(db, "k", "test", a, b, Decimal("2.50"))
    assert first.id == again.id
    assert ledger.balance(db, b) == Decimal("2.50")


def test_top_up_and_charge_keep_the_books_balanced(db):
    vendor = factories.user(db, Role.vendor)
    top_up(db, vendor.id, Decimal("10.00"), DemoProvider())
    assert wallet_balance(db, vendor.id) == Decimal("10.00")
    assert ledger.ledger_total(db) == 0


def test_money_that_is_not_whole_fen_cannot_be_stored(db):
    a = ledger.account(db, "a", "test")
    b = ledger.account(db, "b", "test")
    with pytest.raises(Exception, match="whole fen"):
        ledger.transfer(db, "k", "test", a, b, Decimal("0.001"))
        db.flush()
