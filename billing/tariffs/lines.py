"""Billed lines of a session: energy per tariff period, service fees, and their total."""
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class BilledLine:
    """Energy used in one period of one tariff version, priced and rounded once."""

    period: str
    version: str
    energy_wh: int
    price_per_kwh: Decimal
    amount: Decimal
    start: datetime  # Asia/Shanghai
    end: datetime


@dataclass(frozen=True)
class ServiceFeeLine:
    """A service fee shown apart from energy (价费分离); `energy_wh` is None for a per-session fee."""

    version: str
    basis: str  # "per_kwh" or "per_session"
    energy_wh: int | None
    unit_price: Decimal
    amount: Decimal


def bill_total(lines: Iterable[BilledLine | ServiceFeeLine]) -> Decimal:
    """The sum of the lines' amounts; each line was rounded already, the total never is."""
    return sum((line.amount for line in lines), ZERO)
