"""The register between two readings: linear in time, rounded down to whole Wh."""
from datetime import datetime, timedelta

from billing.tariffs.readings import Reading

MICROSECOND = timedelta(microseconds=1)


def interpolated_register(start: Reading, stop: Reading, at: datetime) -> int:
    """The register at `at` (start <= at < stop in time), floored so energy stays whole Wh."""
    (start_at, start_wh), (stop_at, stop_wh) = start, stop
    elapsed, duration = (at - start_at) // MICROSECOND, (stop_at - start_at) // MICROSECOND
    return start_wh + (stop_wh - start_wh) * elapsed // duration
