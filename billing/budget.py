"""What money buys at Start: the energy limit the meter enforces and the most the session can cost.

Pure arithmetic over a tariff. The limit prices every kWh at the dearest price the session
could meet (energy plus per-kWh service fee) after the per-session fee is set aside, so the
bill of a session that runs to its limit stays within the money. Each bill line is rounded
on its own (half a fen at most, up or down); `cap_bill` keeps the rare sum that rounds above
the maximum at the maximum.
"""
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from billing.pricing import energy_affordable, energy_amount
from billing.tariffs.tariff import Tariff

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class SessionBudget:
    energy_limit_wh: int
    max_amount: Decimal  # the per-session fee plus the limit at the dearest price; never more than the money
    session_fee: Decimal
    dearest_price: Decimal

    @property
    def buys_energy(self) -> bool:
        return self.energy_limit_wh > 0


def session_budget(money: Decimal, tariff: Tariff, start: datetime) -> SessionBudget:
    """The energy `money` buys for a session starting at `start`, with every fee it will incur."""
    fee = tariff.highest_session_fee_from(start)
    dearest = tariff.highest_price_from(start)
    limit = energy_affordable(money - fee, dearest)
    return SessionBudget(limit, fee + energy_amount(limit, dearest), fee, dearest)


def cap_bill(total: Decimal, max_amount: Decimal | None) -> Decimal:
    """How much to knock off a bill so it never exceeds what the session could cost at Start."""
    if max_amount is None or total <= max_amount:
        return ZERO
    return total - max_amount
