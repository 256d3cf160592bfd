"""A plain paho client for tests: publish as a meter, collect what arrives."""
import queue
import threading
import time

from device_gateway.broker_url import BrokerAddress
from device_gateway.connection import new_client


class TestClient:
    __test__ = False

    def __init__(self, broker_url: str, client_id: str, subscribe: list[str] | None = None):
        self.received: queue.Queue = queue.Queue()
        self._ready = threading.Event()
        broker = BrokerAddress.parse(broker_url)
        self.client = new_client(broker, client_id)
        topics = subscribe or []

        def on_connect(client, userdata, flags, reason_code, properties):
            if topics:
                client.subscribe([(t, 1) for t in topics])
            else:
                self._ready.set()

        self.client.on_connect = on_connect
        self.client.on_subscribe = lambda *_: self._ready.set()
        self.client.on_message = lambda c, u, m: self.received.put((m.topic, m.payload))
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        assert self._ready.wait(10), "test MQTT client could not connect/subscribe"

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(10)

    def next(self, timeout: float = 10):
        return self.received.get(timeout=timeout)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def wait_for(predicate, timeout: float = 10, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
