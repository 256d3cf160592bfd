"""Commissioning a meter: the sheet an installer works from (shown once), and a new password when one leaked."""
import secrets
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlmodel import Session

from backend.audit.service import record
from backend.broker_accounts import service as broker_accounts
from backend.core.clock import utcnow
from backend.points.models import Meter
from backend.users.models import User


@dataclass(frozen=True)
class CommissioningSheet:
    serial: str
    client_id: str
    username: str
    password: str | None  # None once it was shown: re-issue to see a new one
    shown_at: datetime | None
    broker: str
    topic_prefix: str


def broker_for_meters(configured: str, mqtt_url: str) -> str:
    """The broker address an installer enters: the configured one, else MQTT_URL without its credentials."""
    if configured:
        return configured
    parts = urlsplit(mqtt_url)
    if not parts.hostname:
        return ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


def open_sheet(db: Session, meter: Meter, broker: str, topic_prefix: str, actor: User) -> CommissioningSheet:
    """The sheet, with the password the first time only (each showing is in the audit log)."""
    first = meter.credentials_shown_at is None
    sheet = CommissioningSheet(meter.serial, meter.serial, meter.mqtt_username,
                               meter.mqtt_password if first else None, meter.credentials_shown_at, broker,
                               topic_prefix)
    if first:
        meter.credentials_shown_at = utcnow()
        record(db, actor, "meter.credentials_shown", "meter", meter.id, None, {"serial": meter.serial})
    return sheet


def reissue_password(db: Session, meter: Meter, actor: User) -> Meter:
    """A new MQTT password for the meter: live accounts change after commit (the old password is refused and its
    connection dropped); with broker-config's files, once they are rewritten."""
    meter.mqtt_password = secrets.token_urlsafe(24)
    meter.credentials_shown_at = None
    broker_accounts.note_meter(db, meter.serial)
    record(db, actor, "meter.credentials_reissued", "meter", meter.id, None, {"serial": meter.serial})
    return meter
