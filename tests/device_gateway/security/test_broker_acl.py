"""A meter cannot publish as, or read the commands of, another — on a real Mosquitto and on the embedded broker.

Both brokers get their users from the database and their rules from the same AccessPolicy. Mosquitto
drops a forbidden publish silently under MQTT 3.1.1, so every test observes what is delivered.
"""
import asyncio
import os
import pwd
import queue
import secrets
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from amqtt.broker import RetainedApplicationMessage
from paho.mqtt.enums import CallbackAPIVersion

from backend.users.models import Role
from device_gateway.broker_config import (
    MAX_PACKET_BYTES, AccessPolicy, PlatformRole, PlatformUser, broker_credentials, meters_for_broker,
    write_broker_config,
)
from device_gateway.embedded_broker import EmbeddedBroker, free_port
from device_gateway.protocol import UPLINK_KINDS, Topics
from tests import factories

TOPICS = Topics("scanpower/v1")
SETTLE_SECONDS = 0.3  # after the last expected message, how long an unexpected one gets to show up


@dataclass(frozen=True)
class Account:
    username: str
    password: str


@dataclass(frozen=True)
class Site:
    """A running broker and who may log in to it."""

    port: int
    policy: AccessPolicy
    meter_a: Account
    meter_b: Account
    gateway: Account
    api: Account


# --- brokers -----------------------------------------------------------------------------------

def start_mosquitto(files_folder: Path, conf: Path, port: int) -> subprocess.Popen:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if os.geteuid() == 0:
        # As root Mosquitto would switch to the `mosquitto` user, who cannot read pytest's private tmp dir.
        conf.write_text(conf.read_text() + f"user {pwd.getpwuid(os.geteuid()).pw_name}\n")
    log = files_folder / "mosquitto.log"
    with log.open("w") as output:
        process = subprocess.Popen([binary, "-c", str(conf)], stdout=output, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while not _listening(port):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"mosquitto did not start on port {port}:\n{log.read_text()}")
        time.sleep(0.02)
    return process


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(params=["mosquitto", "embedded"])
def site(request, db, tmp_path) -> Site:
    """Two meters from the database, the gateway and the API, on a fresh broker of each kind."""
    applicant = factories.user(db, Role.applicant)
    _, first = factories.active_point(db, applicant)
    _, second = factories.active_point(db, applicant)
    db.commit()
    meters = meters_for_broker(db)
    gateway = PlatformUser("scanpower-gateway", secrets.token_urlsafe(16), PlatformRole.gateway)
    api = PlatformUser("scanpower-api", secrets.token_urlsafe(16), PlatformRole.publisher)
    policy = AccessPolicy.for_platform(TOPICS.prefix, [gateway, api])
    port = free_port()
    if request.param == "mosquitto":
        files = write_broker_config(meters, [gateway, api], TOPICS.prefix, tmp_path, port=port,
                                    bind_address="127.0.0.1")
        process = start_mosquitto(tmp_path, files.conf, port)
        request.addfinalizer(lambda: (process.terminate(), process.wait(10)))
    else:
        broker = EmbeddedBroker("127.0.0.1", port, credentials=broker_credentials(meters, [gateway, api]),
                                policy=policy)
        broker.start()
        request.addfinalizer(broker.stop)
    passwords = dict(meters)
    return Site(port, policy, Account(first.serial, passwords[first.serial]),
                Account(second.serial, passwords[second.serial]),
                Account(gateway.username, gateway.password), Account(api.username, api.password))


# --- clients -----------------------------------------------------------------------------------

class Probe:
    """A paho client that records its CONNACK, its SUBACKs and everything delivered to it."""

    def __init__(self, port: int, account: Account | None, client_id: str, clean: bool = True,
                 will: str | None = None):
        self.received: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.connack: mqtt.ReasonCode | None = None
        self._connected, self._subscribed = threading.Event(), threading.Event()
        self._granted: list = []
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean)
        self.client.enable_logger()
        if account:
            self.client.username_pw_set(account.username, account.password)
        if will:
            self.client.will_set(will, b'{"v": 1, "state": "offline"}', qos=1)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = lambda client, userdata, message: self.received.put((message.topic, message.payload))
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self._connected.wait(10), f"{client_id} got no CONNACK"

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connack = reason_code
        self._connected.set()
        if reason_code.is_failure:
            client.disconnect()  # stop paho from retrying

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        self._granted = reason_codes
        self._subscribed.set()

    @property
    def accepted(self) -> bool:
        return not self.connack.is_failure

    def subscribe(self, *filters: str) -> list:
        self._subscribed.clear()
        self.client.subscribe([(f, 1) for f in filters])
        assert self._subscribed.wait(10), "no SUBACK"
        return self._granted

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(10)

    def collect(self, until: set[tuple[str, bytes]], timeout: float = 10) -> set[tuple[str, bytes]]:
        """Everything delivered until all of `until` arrived, plus whatever follows within SETTLE_SECONDS."""
        seen: set[tuple[str, bytes]] = set()
        deadline = time.monotonic() + timeout
        while not until <= seen:
            try:
                seen.add(self.received.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                raise AssertionError(f"still waiting for {sorted(until - seen)}; got {sorted(seen)}") from None
        time.sleep(SETTLE_SECONDS)
        while not self.received.empty():
            seen.add(self.received.get_nowait())
        return seen

    def drop(self) -> None:
        """Vanish without DISCONNECT, so the broker publishes the will."""
        self.client.loop_stop()
        self.client.socket().shutdown(socket.SHUT_RDWR)
        self.client.socket().close()

    def close(self) -> None:
        if self.client.is_connected():
            self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def connect(site):
    probes: list[Probe] = []

    def connect(account: Account | None, client_id: str | None = None, **options) -> Probe:
        probe = Probe(site.port, account, client_id or f"{account.username if account else 'anon'}-{len(probes)}",
                      **options)
        probes.append(probe)
        return probe

    yield connect
    for probe in probes:
        probe.close()


def meter(connect, account: Account) -> Probe:
    """A meter as the protocol describes it: client id = serial, subscribed to its own commands."""
    probe = connect(account, account.username)
    assert probe.accepted
    probe.subscribe(TOPICS.command(account.username))
    return probe


def gateway(site: Site, connect) -> Probe:
    probe = connect(site.gateway, "scanpower-gateway")
    assert probe.accepted
    probe.subscribe(*TOPICS.uplink_filters())
    return probe


# --- the behaviours --------------------------------------------------------------------

def test_a_meter_publishes_its_own_telemetry_to_the_gateway(site, connect):
    platform = gateway(site, connect)
    meter(connect, site.meter_a).publish(TOPICS.meter(site.meter_a.username, "telemetry"), b"a-1")
    assert platform.collect({(TOPICS.meter(site.meter_a.username, "telemetry"), b"a-1")}) == {
        (TOPICS.meter(site.meter_a.username, "telemetry"), b"a-1")}


def test_a_meter_cannot_publish_as_another_meter(site, connect):
    platform = gateway(site, connect)
    a = meter(connect, site.meter_a)
    for kind in UPLINK_KINDS:
        a.publish(TOPICS.meter(site.meter_b.username, kind), b"forged")
    a.publish(TOPICS.meter(site.meter_a.username, "telemetry"), b"genuine")
    assert platform.collect({(TOPICS.meter(site.meter_a.username, "telemetry"), b"genuine")}) == {
        (TOPICS.meter(site.meter_a.username, "telemetry"), b"genuine")}


def test_a_meter_cannot_read_another_meters_commands(site, connect):
    a = meter(connect, site.meter_a)
    b = meter(connect, site.meter_b)
    a.subscribe(TOPICS.command(site.meter_b.username), TOPICS.command("+"), f"{TOPICS.prefix}/#")
    api = connect(site.api)
    api.publish(TOPICS.command(site.meter_b.username), b"close-b")
    api.publish(TOPICS.command(site.meter_a.username), b"close-a")
    assert b.collect({(TOPICS.command(site.meter_b.username), b"close-b")}) == {
        (TOPICS.command(site.meter_b.username), b"close-b")}
    assert a.collect({(TOPICS.command(site.meter_a.username), b"close-a")}) == {
        (TOPICS.command(site.meter_a.username), b"close-a")}


def test_a_wrong_password_is_refused(site, connect):
    probe = connect(Account(site.meter_a.username, site.meter_b.password), site.meter_a.username)
    assert not probe.accepted
    assert not connect(Account("SP99999999", "guess"), "SP99999999").accepted


def test_an_anonymous_client_is_refused(site, connect):
    assert not connect(None, "anonymous").accepted


# --- the edges around them ---------------------------------------------------------------------

def test_a_meters_will_on_another_meters_status_is_never_published(site, connect):
    platform = gateway(site, connect)
    connect(site.meter_a, "forger", will=TOPICS.meter(site.meter_b.username, "status")).drop()
    connect(site.meter_a, site.meter_a.username, will=TOPICS.meter(site.meter_a.username, "status")).drop()
    assert {t for t, _ in platform.collect({(TOPICS.meter(site.meter_a.username, "status"),
                                             b'{"v": 1, "state": "offline"}')})} == {
        TOPICS.meter(site.meter_a.username, "status")}


def test_another_meters_retained_status_is_not_delivered(site, connect):
    gateway(site, connect)  # amqtt used to replay retained messages for anyone's subscriptions on connect
    b = meter(connect, site.meter_b)
    b.publish(TOPICS.meter(site.meter_b.username, "status"), b"online-b", retain=True)
    a = meter(connect, site.meter_a)
    a.subscribe(TOPICS.meter("+", "status"), TOPICS.meter(site.meter_b.username, "status"))
    connect(site.api).publish(TOPICS.command(site.meter_a.username), b"marker")
    assert a.collect({(TOPICS.command(site.meter_a.username), b"marker")}) == {
        (TOPICS.command(site.meter_a.username), b"marker")}


def test_taking_over_another_meters_session_yields_none_of_its_commands(site, connect):
    b = connect(site.meter_b, site.meter_b.username, clean=False)
    b.subscribe(TOPICS.command(site.meter_b.username))
    b.close()
    api = connect(site.api)
    api.publish(TOPICS.command(site.meter_b.username), b"queued-for-b")
    intruder = connect(site.meter_a, site.meter_b.username, clean=False)
    intruder.subscribe(TOPICS.command(site.meter_a.username))
    api.publish(TOPICS.command(site.meter_a.username), b"marker")
    assert intruder.collect({(TOPICS.command(site.meter_a.username), b"marker")}) == {
        (TOPICS.command(site.meter_a.username), b"marker")}


@pytest.mark.parametrize("site", ["mosquitto"], indirect=True)  # amqtt 0.12 has no shared subscriptions
def test_the_gateway_receives_uplink_through_a_shared_subscription(site, connect):
    platform = connect(site.gateway, "scanpower-gateway")
    platform.subscribe(*TOPICS.uplink_filters("gateways"))
    meter(connect, site.meter_a).publish(TOPICS.meter(site.meter_a.username, "ack"), b"ack-1")
    assert platform.collect({(TOPICS.meter(site.meter_a.username, "ack"), b"ack-1")}) == {
        (TOPICS.meter(site.meter_a.username, "ack"), b"ack-1")}


def test_the_gateway_gets_its_catch_up_marker_back_and_a_meter_cannot_forge_one(site, connect):
    platform = connect(site.gateway, "scanpower-gateway")
    marker = TOPICS.gateway_marker("scanpower-gateway")
    platform.subscribe(marker)
    meter(connect, site.meter_a).publish(marker, b"999")
    platform.publish(marker, b"1")
    assert platform.collect({(marker, b"1")}) == {(marker, b"1")}


@pytest.mark.parametrize("site", ["mosquitto"], indirect=True)  # amqtt has no packet size limit
def test_a_packet_larger_than_any_v1_message_disconnects_the_meter_at_the_broker(site, connect):
    platform = gateway(site, connect)
    a = meter(connect, site.meter_a)
    telemetry = TOPICS.meter(site.meter_a.username, "telemetry")
    a.client.publish(telemetry, b"x" * (MAX_PACKET_BYTES + 1), qos=1)
    wait = time.monotonic() + 10
    while a.client.is_connected() and time.monotonic() < wait:
        time.sleep(0.05)
    assert not a.client.is_connected()
    meter(connect, site.meter_b).publish(TOPICS.meter(site.meter_b.username, "telemetry"), b"next")
    assert {t for t, _ in platform.collect({(TOPICS.meter(site.meter_b.username, "telemetry"), b"next")})} == {
        TOPICS.meter(site.meter_b.username, "telemetry")}


# --- the broker does what the policy says, topic by topic -------------------------------------

def matrix_topics(site: Site) -> list[str]:
    serials = (site.meter_a.username, site.meter_b.username)
    return [TOPICS.meter(s, kind) for s in serials for kind in (*UPLINK_KINDS, "cmd")]


def test_every_publish_is_delivered_exactly_when_the_policy_allows_it(site, connect):
    platform = gateway(site, connect)
    meters = {m.username: meter(connect, m) for m in (site.meter_a, site.meter_b)}
    publishers = {account.username: connect(account) for account in
                  (site.meter_a, site.meter_b, site.gateway, site.api)}
    for username, publisher in publishers.items():
        for topic in matrix_topics(site):
            publisher.publish(topic, f"from {username}".encode())

    def expected(readable: str) -> set[tuple[str, bytes]]:
        return {(topic, f"from {username}".encode()) for username in publishers for topic in matrix_topics(site)
                if site.policy.may_publish(username, topic) and site.policy.may_receive(readable, topic)}

    delivered = {serial: probe.collect(expected(serial)) for serial, probe in meters.items()}
    delivered[site.gateway.username] = platform.collect(expected(site.gateway.username))
    assert delivered == {username: expected(username) for username in delivered}
    assert expected(site.gateway.username) and all(expected(serial) for serial in meters)


def test_every_subscriber_receives_exactly_what_the_policy_lets_it_read(site, connect):
    readers = {account.username: connect(account) for account in
               (site.meter_a, site.meter_b, site.gateway, site.api)}
    for reader in readers.values():
        reader.subscribe(*matrix_topics(site))
    api = connect(site.api)
    for account in (site.meter_a, site.meter_b):
        own_meter = connect(account)
        for kind in UPLINK_KINDS:
            own_meter.publish(TOPICS.meter(account.username, kind), TOPICS.meter(account.username, kind).encode())
        api.publish(TOPICS.command(account.username), TOPICS.command(account.username).encode())

    def expected(username: str) -> set[tuple[str, bytes]]:
        return {(topic, topic.encode()) for topic in matrix_topics(site) if site.policy.may_receive(username, topic)}

    received = {username: reader.collect(expected(username)) for username, reader in readers.items()}
    assert received == {username: expected(username) for username in readers}


def test_a_command_vetted_for_a_sessions_last_holder_is_not_sent_to_whoever_took_it_over():
    """amqtt vets a subscriber, then awaits before queuing the message: a takeover can fall in that gap."""
    a, b = Account("SP00000001", secrets.token_urlsafe(8)), Account("SP00000002", secrets.token_urlsafe(8))
    api = PlatformUser("scanpower-api", secrets.token_urlsafe(16), PlatformRole.publisher)
    port = free_port()
    broker = EmbeddedBroker("127.0.0.1", port, credentials=broker_credentials(
        [(a.username, a.password), (b.username, b.password)], [api]),
        policy=AccessPolicy.for_platform(TOPICS.prefix, [api]))
    broker.start()
    try:
        held = Probe(port, b, b.username, clean=False)
        held.subscribe(TOPICS.command(b.username))
        held.close()
        intruder = Probe(port, a, b.username, clean=False)
        intruder.subscribe(TOPICS.command(a.username))
        asyncio.run_coroutine_threadsafe(_queue_late(broker, b.username, TOPICS.command(b.username)),
                                         broker._loop).result(10)
        publisher = Probe(port, Account(api.username, api.password), "api")
        publisher.publish(TOPICS.command(a.username), b"marker")
        assert intruder.collect({(TOPICS.command(a.username), b"marker")}) == {
            (TOPICS.command(a.username), b"marker")}
        intruder.close()
        publisher.close()
    finally:
        broker.stop()


async def _queue_late(broker: EmbeddedBroker, client_id: str, topic: str) -> None:
    """What amqtt's broadcast does after its check: queue for the session, then deliver the queue."""
    amqtt_broker = broker._broker
    session, _ = amqtt_broker._sessions[client_id]
    await session.retained_messages.put(RetainedApplicationMessage(None, topic, b"vetted-for-b", 1))
    await amqtt_broker._publish_session_retained_messages(session)


def test_a_client_that_connects_gets_retained_messages_only_for_its_own_subscriptions():
    """Even an open broker (the demo's) must not replay other meters' retained status to a new client."""
    port = free_port()
    broker = EmbeddedBroker("127.0.0.1", port)
    broker.start()
    try:
        watcher = Probe(port, None, "gateway-like")
        watcher.subscribe(TOPICS.meter("+", "status"))
        other = Probe(port, None, "SP00000003")
        other.publish(TOPICS.meter("SP00000003", "status"), b"offline-3", retain=True)
        newcomer = Probe(port, None, "SP00000002")
        newcomer.subscribe(TOPICS.command("SP00000002"))
        publisher = Probe(port, None, "api")
        publisher.publish(TOPICS.command("SP00000002"), b"marker")
        assert newcomer.collect({(TOPICS.command("SP00000002"), b"marker")}) == {
            (TOPICS.command("SP00000002"), b"marker")}
        for probe in (watcher, other, newcomer, publisher):
            probe.close()
    finally:
        broker.stop()
