"""An embedded amqtt broker per test for the simulator's integration tests."""
import threading
import time

import pytest

from device_gateway.broker_url import BrokerAddress
from device_gateway.embedded_broker import EmbeddedBroker, free_port


@pytest.fixture
def mqtt_broker(no_leaked_threads):
    """A fresh broker per test, so retained messages never leak between tests; it checks for leaked threads too."""
    broker = EmbeddedBroker("127.0.0.1", free_port())
    broker.start()
    yield BrokerAddress(broker.host, broker.port)
    broker.stop()


@pytest.fixture
def no_leaked_threads():
    """Fail a test that leaves threads running after it ends."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 5
    while (leaked := set(threading.enumerate()) - before) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not leaked, f"threads left running: {sorted(t.name for t in leaked)}"
