"""Pure rules about when a metering point may serve sessions."""
from datetime import date

from backend.points.models import MeteringPoint, PointStatus


def refusal_to_serve(point: MeteringPoint, today: date) -> str | None:
    """Why the point cannot start a session today, or None when it can."""
    if point.status == PointStatus.approved:
        return f"metering point {point.name!r} is not switched on yet: its meter has not connected"
    if point.status != PointStatus.active:
        return f"metering point {point.name!r} is {point.status.value}, not active"
    if today < point.valid_from:
        return f"metering point {point.name!r} is valid from {point.valid_from}"
    if today > point.valid_until:
        return f"metering point {point.name!r} expired on {point.valid_until}"
    return None


def has_expired(point: MeteringPoint, today: date) -> bool:
    live = (PointStatus.approved, PointStatus.active)
    return point.status in live and today > point.valid_until


def refusal_to_apply(valid_until: date, today: date) -> str | None:
    """Why an application cannot be filed or approved today, or None."""
    if valid_until < today:
        return f"the validity period ended on {valid_until}; a temporary connection must still be ahead"
    return None
