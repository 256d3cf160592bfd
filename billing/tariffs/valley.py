"""What a session's energy would have cost at valley price: the receipt's hint."""
from collections.abc import Sequence
from decimal import Decimal

from billing.pricing import energy_amount
from billing.tariffs.lines import ZERO, BilledLine
from billing.tariffs.tariff import Tariff


def valley_equivalent(lines: Sequence[BilledLine], tariff: Tariff) -> Decimal:
    """Each line's energy at its version's cheapest (valley) price, rounded once per line, summed."""
    return sum((energy_amount(line.energy_wh, tariff.version_labelled(line.version).lowest_price())
                for line in lines), ZERO)
