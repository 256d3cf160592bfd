"""Turn one uplink message into calls on the backend services: validate it (pure), then apply it (database)."""
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from backend.alarms import service as alarms
from backend.core.clock import utcnow
from backend.meters import ingest
from backend.meters import service as meters
from backend.meters.service import OutletSample
from backend.points.models import Meter
from backend.sessions import meter_events
from device_gateway.protocol import (Ack, BadMessage, Message, SessionEnded, Status, Telemetry, Topics, decode,
                                     timestamp_problem)


@dataclass(frozen=True)
class Uplink:
    """A message that follows protocol v1, and the meter its topic names."""

    serial: str
    kind: str
    message: Message


def handle(db: Session, topics: Topics, topic: str, payload: bytes) -> str:
    """Validate and apply one message; return its kind. Raises BadMessage or UnknownMeter."""
    return apply(db, validate(topics, topic, payload, utcnow()))


def validate(topics: Topics, topic: str, payload: bytes, now: datetime) -> Uplink:
    """Parse and check one message without touching the database. Raises BadMessage."""
    serial, kind = topics.parse(topic)
    message = decode(kind, payload)
    if (ts := getattr(message, "ts", None)) is not None and (problem := timestamp_problem(ts, now)):
        raise BadMessage(problem)
    return Uplink(serial, kind, message)


def apply(db: Session, uplink: Uplink) -> str:
    """Apply a validated message; return its kind. Raises UnknownMeter."""
    _apply(db, meters.meter_by_serial(db, uplink.serial), uplink.message)
    return uplink.kind


def _apply(db: Session, meter: Meter, message: Message) -> None:
    match message:
        case Telemetry():
            ingest.record_telemetry(db, meter, message.boot_id, message.seq, message.ts,
                                    [sample_of(o) for o in message.outlets])
        case Ack():
            meters.set_presence(db, meter, True, message.boot_id)
            meter_events.command_acknowledged(db, meter, message.cmd_id, message.action, message.result == "ok",
                                          message.reason, message.energy_wh, message.ts, message.boot_id,
                                          message.seq)
        case SessionEnded():
            meters.set_presence(db, meter, True, message.boot_id)
            meter_events.ended_by_meter(db, meter, message.ch, message.session_id, message.reason,
                                    message.energy_wh, message.ts, message.boot_id, message.seq)
            if message.reason == "power_loss":
                alarms.supply_lost(db, meter, message.ts)
        case Status():
            meters.set_presence(db, meter, message.state == "online", message.boot_id)


def sample_of(reading) -> OutletSample:
    return OutletSample(channel=reading.ch, energy_wh=reading.energy_wh, power_w=reading.power_w,
                        voltage_v=reading.voltage_v, current_a=reading.current_a,
                        relay_closed=reading.relay == "closed", session_id=reading.session_id)
