"""An embedded amqtt broker for the simulator's integration tests."""
import asyncio
import socket
import threading
import time

import pytest
from amqtt.broker import Broker

from device_gateway.broker_url import BrokerAddress


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def mqtt_broker(no_leaked_threads):
    """A fresh broker per test, so retained messages never leak between tests; it checks for leaked threads too."""
    port = _free_port()
    config = {
        "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
        "sys_interval": 0,
        "auth": {"allow-anonymous": True},
        "topic-check": {"enabled": False},
    }
    loop = asyncio.new_event_loop()
    holder: list[Broker] = []
    started = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        broker = Broker(config, loop=loop)
        holder.append(broker)
        loop.run_until_complete(broker.start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, name="amqtt-broker", daemon=True)
    thread.start()
    assert started.wait(10), "the embedded broker did not start"
    yield BrokerAddress("127.0.0.1", port)
    asyncio.run_coroutine_threadsafe(holder[0].shutdown(), loop).result(5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


@pytest.fixture
def no_leaked_threads():
    """Fail a test that leaves threads running after it ends."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 5
    while (leaked := set(threading.enumerate()) - before) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not leaked, f"threads left running: {sorted(t.name for t in leaked)}"
