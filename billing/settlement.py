"""Pure settlement of one session: energy from the register delta, then one rounding."""
from dataclasses import dataclass
from decimal import Decimal

from billing.pricing import energy_amount


class RegisterWentBackwards(ValueError):
    """The stop register is below the start register: a reset or a replaced meter."""


@dataclass(frozen=True)
class Bill:
    energy_wh: int
    amount: Decimal


def session_energy(start_register_wh: int, stop_register_wh: int) -> int:
    if stop_register_wh < start_register_wh:
        raise RegisterWentBackwards(f"register went from {start_register_wh} to {stop_register_wh} Wh")
    return stop_register_wh - start_register_wh


def settle(start_register_wh: int, stop_register_wh: int, price_per_kwh: Decimal) -> Bill:
    energy = session_energy(start_register_wh, stop_register_wh)
    return Bill(energy_wh=energy, amount=energy_amount(energy, price_per_kwh))
