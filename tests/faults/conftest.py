"""Fixtures for fault tests: every process a test starts is ended by the fixture, pass or fail."""
import uuid

import pytest
from sqlalchemy.engine import Engine

from device_gateway.broker_url import BrokerAddress
from device_gateway.commands import MqttOrderSink
from device_gateway.connection import PublishOnlyClient
from device_gateway.embedded_broker import free_port
from device_gateway.gateway import Gateway
from device_gateway.protocol import Topics
from firmware_sim.fleet import Fleet
from tests.faults.fault_harness import GatewayProcess, MosquittoProcess, Site, make_site

# Telemetry every 50 ms, so a few seconds of streaming is a few dozen messages per meter.
STREAM_INTERVAL_S = 0.05


@pytest.fixture
def topics() -> Topics:
    return Topics(f"spfault-{uuid.uuid4().hex[:8]}/v1")


@pytest.fixture
def mosquitto(tmp_path):
    folder = tmp_path / "mosquitto"
    folder.mkdir()
    broker = MosquittoProcess(folder, free_port())
    try:
        broker.start()
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def gateway_process(tmp_path, database_url, mosquitto, topics):
    folder = tmp_path / "gateway"
    folder.mkdir()
    gateway = GatewayProcess(folder, database_url, mosquitto.url, topics.prefix, f"gw-{uuid.uuid4().hex[:8]}")
    try:
        gateway.start()
        gateway.wait_connected()
        yield gateway
    finally:
        gateway.stop()


@pytest.fixture
def commands(mosquitto, topics):
    """The API's side of MQTT: relay orders from committed units of work go out through this sink."""
    publisher = PublishOnlyClient(BrokerAddress.parse(mosquitto.url), f"api-{uuid.uuid4().hex[:8]}")
    try:
        assert publisher.wait_connected(10), "the command publisher could not connect"
        yield MqttOrderSink(publisher.client, topics)
    finally:
        publisher.close()


@pytest.fixture
def site(engine) -> Site:
    return make_site(engine)


@pytest.fixture
def make_fleet(mosquitto, topics):
    """Fleets that stream fast and record what they publish; each is stopped at the end."""
    fleets: list[Fleet] = []

    def make(**options) -> Fleet:
        settings = dict(prefix=topics.prefix, active_interval=STREAM_INTERVAL_S, idle_interval=STREAM_INTERVAL_S,
                        tick=STREAM_INTERVAL_S, record=True) | options
        fleets.append(Fleet(BrokerAddress.parse(mosquitto.url), **settings))
        return fleets[-1]

    try:
        yield make
    finally:
        for fleet in fleets:
            fleet.stop()


@pytest.fixture
def start_gateway(engine, mosquitto, topics):
    """In-process gateways (where no kill is needed and its counters are worth reading); stopped at the end."""
    gateways: list[Gateway] = []

    def start(client_id: str = "gw-in-process", database: Engine | None = None, **options) -> Gateway:
        gateway = Gateway(BrokerAddress.parse(mosquitto.url), database or engine, topics, client_id, **options)
        gateways.append(gateway)
        gateway.start()
        assert gateway.wait_connected(10), "the gateway could not connect"
        return gateway

    try:
        yield start
    finally:
        for gateway in gateways:
            gateway.stop()
