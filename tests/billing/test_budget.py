"""What money buys at Start: every fee is covered, and no bill of a session within its limit costs more."""
from datetime import timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from backend.meters.register_rules import Reading
from backend.sessions.pricing import price_session
from billing.budget import session_budget
from billing.pricing import energy_amount
from billing.tariffs import load_tariff
from tests.billing.tariffs.test_tou_split_properties import ANCHORS, TWO_DAYS, three_versions

RATED_W = Decimal(10**12)  # plausibility of the energy is not under test here


def flat(price: str, **fee) -> object:
    version = {"label": "v1", "effective_from": "2020-01-01", "price_per_kwh": price}
    if fee:
        version["service_fee"] = fee
    return load_tariff({"name": "flat", "category": "commercial", "versions": [version]})


def with_fees(tariff, per_kwh: str | None, per_session: str | None):
    fee = {k: v for k, v in {"per_kwh": per_kwh, "per_session": per_session}.items() if v}
    versions = [v.model_dump(mode="json") | ({"service_fee": fee} if fee else {}) for v in tariff.versions]
    return load_tariff({"name": "with fees", "category": "commercial", "versions": versions})


def test_a_per_session_fee_larger_than_the_money_buys_nothing():
    budget = session_budget(Decimal("1.00"), flat("1.00", per_session="5.00"), ANCHORS[0])
    assert not budget.buys_energy
    assert budget.session_fee == Decimal("5.00")


def test_the_per_session_fee_is_set_aside_before_energy_is_bought():
    budget = session_budget(Decimal("6.00"), flat("1.00", per_session="5.00"), ANCHORS[0])
    assert budget.energy_limit_wh == 1000
    assert budget.max_amount == Decimal("6.00")


def test_the_per_kwh_fee_is_priced_into_the_limit():
    budget = session_budget(Decimal("3.00"), flat("1.00", per_kwh="0.50"), ANCHORS[0])
    assert budget.energy_limit_wh == 2000
    assert budget.max_amount == Decimal("3.00")


def test_per_line_rounding_above_the_maximum_is_capped():
    # One price in two versions: 5 Wh in each rounds up to ¥0.01 twice, though 10 Wh cost ¥0.01.
    tariff = load_tariff({"name": "two", "category": "commercial", "versions": [
        {"label": "a", "effective_from": "2025-06-01", "price_per_kwh": "1.00"},
        {"label": "b", "effective_from": "2025-06-02", "price_per_kwh": "1.00"}]})
    budget = session_budget(Decimal("0.01"), tariff, ANCHORS[0])
    assert (budget.energy_limit_wh, budget.max_amount) == (10, Decimal("0.01"))
    midnight = ANCHORS[0].replace(hour=0) + timedelta(days=1)
    readings = [Reading("b", 0, midnight - timedelta(hours=1), 0), Reading("b", 1, midnight, 5),
                Reading("b", 2, midnight + timedelta(hours=1), 10)]
    uncapped = price_session(readings, tariff, RATED_W)
    capped = price_session(readings, tariff, RATED_W, budget.max_amount)
    assert uncapped.total == Decimal("0.02")
    assert (capped.total, capped.cap) == (Decimal("0.01"), Decimal("0.01"))


fees = st.sampled_from([None, "0.0500", "0.1234", "0.8000"])
session_fees = st.sampled_from([None, "0.50", "5.00"])


@settings(max_examples=300, deadline=None)
@given(money=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("500"), places=2),
       per_kwh=fees, per_session=session_fees, anchor=st.sampled_from(ANCHORS),
       offset=st.integers(0, TWO_DAYS), shares=st.lists(st.integers(0, 1000), min_size=1, max_size=30),
       gaps=st.lists(st.integers(1, 6 * 3600), min_size=30, max_size=30))
def test_no_session_within_its_limit_costs_more_than_its_maximum(money, per_kwh, per_session, anchor, offset,
                                                                   shares, gaps):
    tariff = with_fees(three_versions(), per_kwh, per_session)
    start = anchor + timedelta(seconds=offset)
    budget = session_budget(money, tariff, start)
    assert Decimal(budget.energy_limit_wh + 1) * budget.dearest_price / 1000 > money - budget.session_fee
    if not budget.buys_energy:
        return
    assert budget.max_amount <= money
    # Spread the whole limit (the worst case) over up to 30 intervals of up to six hours.
    total = sum(shares) or 1
    used = [budget.energy_limit_wh * s // total for s in shares]
    used[-1] += budget.energy_limit_wh - sum(used)
    readings, at, register = [Reading("b", 0, start, 0)], start, 0
    for seq, (energy, gap) in enumerate(zip(used, gaps), start=1):
        at, register = at + timedelta(seconds=gap), register + energy
        readings.append(Reading("b", seq, at, register))
    bill = price_session(readings, tariff, RATED_W, budget.max_amount)
    assert bill.energy_wh == budget.energy_limit_wh
    assert bill.total <= budget.max_amount
    # The cap only ever absorbs rounding: half a fen per rounded line at most.
    rounded_lines = len(bill.lines) + len([f for f in bill.fees if f.basis == "per_kwh"])
    assert bill.cap <= Decimal("0.005") * rounded_lines
    assert budget.max_amount == budget.session_fee + energy_amount(budget.energy_limit_wh, budget.dearest_price)
