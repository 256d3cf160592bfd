"""A payload the database cannot even quarantine as sent must not stop the gateway for every other meter."""
from datetime import UTC, datetime

from sqlmodel import Session, select

from backend.meters.models import RejectedMessage
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
    with Session(engine) as db:
        rejected = db.exec(select(RejectedMessage)).one()
    assert rejected.topic == topic and "\x00" not in rejected.payload
    assert gateway.metrics.totals()["rejected"] == 1
