"""A session's relay orders: close to start, open to stop, each with its command id and deadline."""
import uuid
from datetime import datetime, timedelta

from sqlmodel import Session

from backend.core.clock import as_utc
from backend.meters.orders import RelayOrder, queue_order
from backend.points.models import Meter
from backend.sessions.models import UsageSession


def order(db: Session, meter: Meter, session: UsageSession, action: str, cmd_id: str,
           deadline: datetime) -> None:
    limit = session.energy_limit_wh if action == "close" else None
    queue_order(db, RelayOrder(meter_serial=meter.serial, channel=session.channel, action=action,
                               session_id=session.id, cmd_id=cmd_id, energy_limit_wh=limit, deadline=deadline))


def start_deadline(session: UsageSession, timeout: int) -> datetime:
    return as_utc(session.requested_at) + timedelta(seconds=timeout)


def stop_deadline(session: UsageSession, timeout: int) -> datetime:
    return as_utc(session.stop_requested_at) + timedelta(seconds=timeout)


def new_cmd_id() -> str:
    return uuid.uuid4().hex
