"""A payload the database cannot even quarantine as sent must not stop the gateway for every other meter."""
from datetime import UTC, datetime

from sqlmodel import Session, select

from backend.meters.models import QuarantineEntry, RejectionKind
from device_gateway.protocol import OutletReading, Telemetry, encode
from tests.faults.fault_harness import stored_readings, wait_until
from tests.mqtt_tools import TestClient


def test_a_payload_with_nul_bytes_is_quarantined_and_the_next_message_is_stored(engine, site, mosquitto, topics,
                                                                                 start_gateway):
    gateway = start_gateway()
    topic = topics.meter(site.meter.serial, "telemetry")
    reading = OutletReading(ch=1, energy_wh=10, power_w=0.0, voltage_v=220.0, current_a=0.0, relay="open")
    good = Telemetry(boot_id="b1", seq=1, ts=datetime.now(UTC), outlets=[reading])
    device = TestClient(mosquitto.url, site.meter.serial)
    try:
        device.publish(topic, b'{"v": 1, "boot_id": "\x00"}')  # PostgreSQL text cannot hold NUL
        device.publish(topic, encode(good))
        wait_until(lambda: stored_readings(engine, site.meter.id), 10, "the good reading to be stored")
    finally:
        device.close()
    [rejected] = wait_until(lambda: quarantined(engine), 10, "the quarantine to be written")
    assert (rejected.last_topic, rejected.kind) == (topic, RejectionKind.bad_message)
    assert "\x00" not in rejected.last_payload and "\\0" in rejected.last_payload
    assert gateway.metrics.totals()["rejected"] == 1


def quarantined(engine) -> list[QuarantineEntry]:
    with Session(engine) as db:
        return list(db.exec(select(QuarantineEntry)))
