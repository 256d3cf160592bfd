"""A session's meter readings: aware times, whole-Wh cumulative registers, never going back."""
from collections.abc import Sequence
from datetime import UTC, datetime
from itertools import pairwise

from billing.settlement import RegisterWentBackwards

Reading = tuple[datetime, int]


class InvalidReadings(ValueError):
    """Readings that cannot be priced: too few, naive times, out of order, or not whole Wh."""


def checked_readings(readings: Sequence[Reading]) -> list[Reading]:
    """The readings in UTC, once they are known to be priceable."""
    if len(readings) < 2:
        raise InvalidReadings("a session needs at least its start and its stop reading")
    for at, register_wh in readings:
        if at.tzinfo is None or at.utcoffset() is None:
            raise InvalidReadings(f"reading time {at} has no time zone")
        if isinstance(register_wh, bool) or not isinstance(register_wh, int):
            raise InvalidReadings(f"register {register_wh!r} at {at} is not a whole number of Wh")
    for (earlier, earlier_wh), (later, later_wh) in pairwise(readings):
        if later < earlier:
            raise InvalidReadings(f"reading at {later} comes after the reading at {earlier}")
        if later_wh < earlier_wh:
            raise RegisterWentBackwards(f"register went from {earlier_wh} Wh at {earlier} to {later_wh} Wh at {later}")
    return [(at.astimezone(UTC), register_wh) for at, register_wh in readings]
