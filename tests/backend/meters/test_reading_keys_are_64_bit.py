"""Telemetry keeps being stored past 2^31 rows, and with the 64-bit registers and sequences the protocol allows."""
import pytest
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import text
from sqlmodel import Session, select

from backend.core.clock import utcnow
from backend.meters.models import Reading
from backend.meters.service import OutletSample
from backend.meters.ingest import record_telemetry
from device_gateway.protocol import RegisterWh, Seq, SessionId
from tests import factories

LARGEST_REGISTER = 10**12 - 1  # RegisterWh
LARGEST_SEQ = 2**53 - 1  # Seq


def _sample(channel: int, energy_wh: int, session_id: int | None = None) -> OutletSample:
    return OutletSample(channel=channel, energy_wh=energy_wh, power_w=0.0, voltage_v=230.0, current_a=0.0,
                        relay_closed=False, session_id=session_id)


def _as_if_two_billion_readings_came_before(db: Session) -> None:
    if db.get_bind().dialect.name == "postgresql":
        db.exec(text(f"SELECT setval(pg_get_serial_sequence('reading', 'id'), {2**31 + 9})"))
    else:
        db.exec(text(f"UPDATE reading SET id = {2**31 + 9} WHERE id = (SELECT max(id) FROM reading)"))


def test_readings_are_stored_past_the_32_bit_key(db):
    _, meter = factories.active_point(db, outlets=1)
    record_telemetry(db, meter, "boot-1", 1, utcnow(), [_sample(1, 1_000)])
    _as_if_two_billion_readings_came_before(db)

    stored = record_telemetry(db, meter, "boot-1", 2, utcnow(), [_sample(1, 1_001)])
    db.commit()

    assert stored == 1
    assert max(db.exec(select(Reading.id))) > 2**31


def test_the_protocols_largest_register_sequence_and_session_id_are_stored(db):
    _, meter = factories.active_point(db, outlets=1)

    record_telemetry(db, meter, "boot-1", LARGEST_SEQ, utcnow(), [_sample(1, LARGEST_REGISTER, session_id=2**53 - 1)])
    db.commit()

    reading = db.exec(select(Reading)).one()
    assert (reading.seq, reading.energy_wh) == (LARGEST_SEQ, LARGEST_REGISTER)


@pytest.mark.parametrize("kind, largest", [(RegisterWh, LARGEST_REGISTER), (Seq, LARGEST_SEQ),
                                           (SessionId, 2**53 - 1)])
def test_the_values_stored_here_are_the_largest_the_protocol_accepts(kind, largest):
    assert TypeAdapter(kind).validate_python(largest) == largest
    with pytest.raises(ValidationError):
        TypeAdapter(kind).validate_python(largest + 1)
