"""The bridge trips a DL/T 645 meter early enough that its register cannot pass the session's cut-off."""
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from device_gateway.dlt645.limit import PollTiming, margin_wh, over_power, trip_now

TIMING = PollTiming(poll_interval_s=Decimal("2"), timeout_s=Decimal("2.5"), retries=2)


def test_the_documented_margin_of_a_16_a_outlet():
    # 3680 W × 1.2 × (2 + 1 + 2 × 7.5) s = 22.08 Wh → 23 Wh, plus one 10 Wh register step.
    assert TIMING.horizon_s == Decimal("18")
    assert margin_wh(Decimal("3680"), TIMING) == 33


def test_it_trips_within_the_margin_and_not_before():
    assert not trip_now(10_000 - 34, 10_000, 33)
    assert trip_now(10_000 - 33, 10_000, 33)
    assert trip_now(10_050, 10_000, 33)  # already past (a silent DTU came back)


@given(st.integers(100, 200_000), st.decimals(Decimal("0"), Decimal("1.2"), places=3),
       st.decimals(Decimal("0"), Decimal("18"), places=3), st.integers(0, 10**8))
def test_whatever_the_load_up_to_its_overload_limit_the_register_stays_within_the_cut_off(
        rated_w, share, elapsed, register):
    """Not tripped at this reading: even at 1.2 × rated power for a whole horizon, the register's hidden 10 Wh
    fraction included, the true energy stays below the cut-off."""
    margin = margin_wh(Decimal(rated_w), TIMING)
    cutoff = register + margin + 1
    assert not trip_now(register, cutoff, margin)
    true_energy_at_trip = register + 10 + Decimal(rated_w) * share * elapsed / 3600
    assert true_energy_at_trip < cutoff


def test_a_load_20_percent_over_the_outlets_limit_trips():
    assert over_power(Decimal("4417"), Decimal("3680"))
    assert not over_power(Decimal("4416"), Decimal("3680"))
    assert not over_power(Decimal("99999"), None)
