"""A charge after the fact takes only what is free in the wallet; the rest is owed, collected from the next top-up."""
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.users.models import Role
from billing.ledger import service as ledger
from billing.payments.providers import DemoProvider
from billing.payments.service import top_up
from billing.wallet import arrears
from billing.wallet.charges import charge_adjustment, charge_wallet
from billing.wallet.cover import collectable, cover
from billing.wallet.service import wallet_balance
from tests import factories

money = st.decimals(min_value=Decimal("-1000"), max_value=Decimal("1000"), places=2)


@given(amount=money.filter(lambda m: m >= 0), free=money)
def test_the_wallet_pays_at_most_what_is_free_and_the_rest_is_owed(amount, free):
    split = cover(amount, free)
    assert split.from_wallet + split.owed == amount
    assert Decimal(0) <= split.from_wallet <= max(free, Decimal(0))
    assert split.owed >= 0 and (split.owed == 0 or split.from_wallet == max(free, Decimal(0)))


@given(owed=money, free=money)
def test_collection_takes_neither_more_than_is_owed_nor_more_than_is_free(owed, free):
    taken = collectable(owed, free)
    assert Decimal(0) <= taken <= max(owed, Decimal(0)) and taken <= max(free, Decimal(0))


def test_a_negative_charge_is_a_mistake():
    with pytest.raises(ValueError):
        cover(Decimal("-0.01"), Decimal("5"))


def test_a_charge_beyond_the_free_money_is_owed_and_the_next_top_up_pays_it_off(db):
    vendor = factories.user(db, Role.vendor, Decimal("2.00"))
    split = charge_wallet(db, vendor.id, "k", "adjustment", Decimal("3.50"), Decimal("2.00"), "late reading")
    assert (split.from_wallet, split.owed) == (Decimal("2.00"), Decimal("1.50"))
    assert (wallet_balance(db, vendor.id), arrears.owed(db, vendor.id)) == (Decimal("0.00"), Decimal("1.50"))
    again = charge_wallet(db, vendor.id, "k", "adjustment", Decimal("3.50"), Decimal("0.00"), "late reading")
    assert again == split  # once per key, and a repeat says how the first was split
    top_up(db, vendor.id, Decimal("1.00"), DemoProvider())
    assert (wallet_balance(db, vendor.id), arrears.owed(db, vendor.id)) == (Decimal("0.00"), Decimal("0.50"))
    top_up(db, vendor.id, Decimal("5.00"), DemoProvider())
    assert (wallet_balance(db, vendor.id), arrears.owed(db, vendor.id)) == (Decimal("4.50"), Decimal("0.00"))
    assert ledger.ledger_total(db) == 0


def test_the_wallet_balance_bounds_a_charge_whatever_the_caller_thinks_is_free(db):
    vendor = factories.user(db, Role.vendor, Decimal("1.00"))
    split = charge_wallet(db, vendor.id, "k", "settlement", Decimal("3.00"), Decimal("50.00"), "session")
    assert (split.from_wallet, split.owed, wallet_balance(db, vendor.id)) == (Decimal("1.00"), Decimal("2.00"), 0)


def test_an_adjustment_downwards_credits_the_wallet_and_owes_nothing(db):
    vendor = factories.user(db, Role.vendor)
    split = charge_adjustment(db, vendor.id, None, Decimal("-0.40"), "adjust:x:1", Decimal("0.00"))
    assert (split.owed, wallet_balance(db, vendor.id)) == (Decimal("0.00"), Decimal("0.40"))
    assert ledger.ledger_total(db) == 0
