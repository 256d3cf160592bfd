"""How a charge after the fact splits between the wallet and what the vendor owes: the wallet never goes below zero."""
from dataclasses import dataclass
from decimal import Decimal

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Cover:
    from_wallet: Decimal
    owed: Decimal


def cover(amount: Decimal, free: Decimal) -> Cover:
    """The wallet pays what is free in it, up to `amount`; the rest is owed."""
    if amount < 0:
        raise ValueError(f"a charge cannot be negative: {amount}")
    from_wallet = min(amount, max(free, ZERO))
    return Cover(from_wallet, amount - from_wallet)


def collectable(owed: Decimal, free: Decimal) -> Decimal:
    """How much of what is owed the free money pays off now."""
    return min(max(owed, ZERO), max(free, ZERO))
