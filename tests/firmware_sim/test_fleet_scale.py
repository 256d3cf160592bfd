"""A thousand meters from one fleet: all connect and all report, on a few threads."""
import os
import threading
import time
import uuid
from collections import Counter

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from device_gateway.broker_url import BrokerAddress
from device_gateway.embedded_broker import free_port
from firmware_sim.fleet import Fleet
from tests.faults.fault_harness import MosquittoProcess

METERS = 1000


@pytest.fixture
def broker(tmp_path):
    """Mosquitto, not the embedded broker: a thousand clients on an in-process Python broker measure the broker.

    The one at MQTT_URL when set (CI); otherwise a Mosquitto of this test's own on a free port.
    """
    if os.environ.get("MQTT_URL"):
        yield BrokerAddress.parse(os.environ["MQTT_URL"])
        return
    own = MosquittoProcess(tmp_path, free_port())
    own.start()
    try:
        yield BrokerAddress.parse(own.url)
    finally:
        own.stop()


@pytest.fixture
def telemetry_counter(broker):
    """Counts telemetry per meter under a topic prefix of this test's own."""
    prefix = f"simscale-test-{uuid.uuid4().hex[:8]}/v1"
    counts: Counter[str] = Counter()
    subscribed = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"count-{uuid.uuid4().hex[:8]}")
    client.on_connect = lambda c, *_: c.subscribe(f"{prefix}/m/+/telemetry", 0)
    client.on_subscribe = lambda *_: subscribed.set()
    client.on_message = lambda c, u, msg: counts.update([msg.topic.split("/")[-2]])
    client.connect(broker.host, broker.port)
    client.loop_start()
    assert subscribed.wait(10)
    yield prefix, counts
    client.disconnect()
    client.loop_stop()


def test_a_thousand_meters_connect_and_report_from_a_few_threads(broker, telemetry_counter, no_leaked_threads):
    prefix, counts = telemetry_counter
    fleet = Fleet(broker, prefix, idle_interval=2.0)
    serials = [f"SCALE{uuid.uuid4().hex[:6]}-{i:04d}" for i in range(METERS)]
    for serial in serials:
        fleet.add_meter(serial, 2)
    threads_before = threading.active_count()
    try:
        fleet.start()
        assert fleet.wait_connected(30), "not every meter connected"
        assert threading.active_count() - threads_before <= 2  # the tick thread and the I/O thread
        deadline = time.monotonic() + 15
        while any(counts[s] < 2 for s in serials) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        fleet.stop()
    assert [s for s in serials if counts[s] < 2] == []  # the first telemetry and an interval one, each
    assert fleet.errors == 0
