"""Split a session's readings into billed lines by tariff version and time-of-use period."""
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from itertools import groupby, pairwise

from billing.pricing import energy_amount
from billing.tariffs.clock import SHANGHAI
from billing.tariffs.interpolation import interpolated_register
from billing.tariffs.lines import BilledLine
from billing.tariffs.lookup import period_in_effect
from billing.tariffs.readings import Reading, checked_readings
from billing.tariffs.tariff import Tariff


@dataclass(frozen=True)
class _Piece:
    version: str
    period: str
    price_per_kwh: Decimal
    start: datetime
    end: datetime
    energy_wh: int


def split_by_tariff_period(readings: Sequence[Reading], tariff: Tariff) -> list[BilledLine]:
    """Price a session's readings per (tariff version, period), one rounding per line.

    `readings` are (aware time, cumulative register Wh) from the start to the stop reading.
    A period or version boundary strictly between two readings splits that interval's energy
    at the register interpolated linearly in time and rounded down to whole Wh: each side
    gets the difference, so the earlier side's share is floored and the remainder goes to
    the later side, and the lines add up exactly to the register delta. Two readings at the
    same instant put their difference in the period of that instant. Consecutive pieces in
    the same version and period become one line.
    """
    checked = checked_readings(readings)
    pieces = [piece for start, stop in pairwise(checked) for piece in _split_interval(start, stop, tariff)]
    return [_billed(list(group)) for _, group in groupby(pieces, key=lambda piece: (piece.version, piece.period))]


def _split_interval(start: Reading, stop: Reading, tariff: Tariff) -> Iterator[_Piece]:
    """The pieces of one interval between readings, cut at every boundary inside it."""
    at, register_wh = start
    while True:
        in_effect = period_in_effect(tariff, at)
        until = in_effect.until
        inside = until is not None and until < stop[0]
        end, end_wh = (until, interpolated_register(start, stop, until)) if inside else stop
        yield _Piece(in_effect.version.label, in_effect.period, in_effect.price_per_kwh, at, end, end_wh - register_wh)
        if end == stop[0]:
            return
        at, register_wh = end, end_wh


def _billed(pieces: list[_Piece]) -> BilledLine:
    first, last = pieces[0], pieces[-1]
    energy_wh = sum(piece.energy_wh for piece in pieces)
    return BilledLine(period=first.period, version=first.version, energy_wh=energy_wh,
                      price_per_kwh=first.price_per_kwh, amount=energy_amount(energy_wh, first.price_per_kwh),
                      start=first.start.astimezone(SHANGHAI), end=last.end.astimezone(SHANGHAI))
