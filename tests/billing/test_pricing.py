from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.pricing import energy_affordable, energy_amount
from billing.settlement import RegisterWentBackwards, settle

prices = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("5"), places=4)
balances = st.decimals(min_value=Decimal("0.00"), max_value=Decimal("5000"), places=2)


def test_amount_is_rounded_half_up_to_the_fen_once():
    assert energy_amount(1237, Decimal("0.67")) == Decimal("0.83")  # 0.82879
    assert energy_amount(5, Decimal("1.00")) == Decimal("0.01")  # 0.005 rounds up
    assert energy_amount(4, Decimal("1.00")) == Decimal("0.00")


@given(balance=balances, price=prices)
def test_the_affordable_energy_never_costs_more_than_the_balance(balance, price):
    wh = energy_affordable(balance, price)
    assert energy_amount(wh, price) <= balance
    assert Decimal(wh + 1) * price / 1000 > balance  # and one more Wh would be too much


@given(start=st.integers(0, 10**9), used=st.integers(0, 10**7), price=prices)
def test_settlement_bills_exactly_the_register_delta(start, used, price):
    bill = settle(start, start + used, price)
    assert bill.energy_wh == used
    assert bill.amount == energy_amount(used, price)
    assert bill.amount.as_tuple().exponent == -2


@given(start=st.integers(1, 10**9), back=st.integers(1, 10**9))
def test_a_register_that_went_backwards_is_refused(start, back):
    with pytest.raises(RegisterWentBackwards):
        settle(start, max(start - back, 0), Decimal("1"))
