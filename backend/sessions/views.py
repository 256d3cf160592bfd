"""Read models of sessions: live figures while open, settled figures after."""
from datetime import datetime

from backend.core.clock import as_utc
from backend.sessions.models import SessionPublic, UsageSession
from backend.sessions.live import live_amount, live_energy_wh


def session_public(session: UsageSession) -> SessionPublic:
    return SessionPublic(
        id=session.id, outlet_id=session.outlet_id, point_id=session.point_id, channel=session.channel,
        status=session.status, price_per_kwh=session.price_per_kwh, energy_limit_wh=session.energy_limit_wh,
        max_amount=session.max_amount,
        requested_at=as_utc(session.requested_at), started_at=_utc(session.started_at),
        ended_at=_utc(session.ended_at),
        start_register_wh=session.start_register_wh, stop_register_wh=session.stop_register_wh,
        energy_wh=live_energy_wh(session), amount=live_amount(session),
        power_w=session.latest_power_w if session.status.is_open else None,
        stop_reason=session.stop_reason, failure_reason=session.failure_reason, needs_review=session.needs_review,
        review_note=session.review_note, provisional=session.provisional)


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else as_utc(moment)
