"""Pure money arithmetic for energy: one rounding, half up, to the fen."""
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

FEN = Decimal("0.01")
WH_PER_KWH = Decimal(1000)


def energy_amount(energy_wh: int, price_per_kwh: Decimal) -> Decimal:
    """What `energy_wh` costs at `price_per_kwh`, rounded once to the fen (half up)."""
    if energy_wh < 0:
        raise ValueError("energy cannot be negative")
    return (Decimal(energy_wh) * price_per_kwh / WH_PER_KWH).quantize(FEN, rounding=ROUND_HALF_UP)


def energy_affordable(balance: Decimal, price_per_kwh: Decimal) -> int:
    """The most whole Wh whose exact cost does not exceed `balance`."""
    if balance <= 0:
        return 0
    return int((balance * WH_PER_KWH / price_per_kwh).to_integral_value(rounding=ROUND_FLOOR))
