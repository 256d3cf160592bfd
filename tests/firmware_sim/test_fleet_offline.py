"""The fleet without a network: meters buffer, keep their limits, and upload in order when they are back."""
import queue
import time
import uuid
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from device_gateway.protocol import Command, Message, SessionEnded, Status, Telemetry, Topics, decode, encode
from device_gateway.rate_limit import RateLimit
from firmware_sim.cli import run_fleet
from firmware_sim.faults import Faults
from firmware_sim.fleet import Fleet
from firmware_sim.loads import constant

SERIAL = "SIMOFF01"
TOPICS = Topics()
TIMEOUT_S = 10.0


class Platform:
    """Records every uplink message of the meter, in arrival order, and sends it commands."""

    def __init__(self, broker):
        self.received: queue.Queue[Message] = queue.Queue()
        self.log: list[Message] = []  # everything, in arrival order
        self.arrived: list[float] = []  # time.monotonic() of each message in the log
        subscribed = queue.Queue()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"platform-{uuid.uuid4().hex[:8]}")
        self.client.on_connect = lambda c, *_: c.subscribe(f"{TOPICS.prefix}/m/{SERIAL}/+", 1)
        self.client.on_subscribe = lambda *_: subscribed.put(True)
        self.client.on_message = self._on_message
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        subscribed.get(timeout=TIMEOUT_S)

    def _on_message(self, client, userdata, msg) -> None:
        _, kind = TOPICS.parse(msg.topic) if not msg.topic.endswith("/cmd") else (None, None)
        if kind:
            message = decode(kind, msg.payload)
            self.log.append(message)
            self.arrived.append(time.monotonic())
            self.received.put(message)

    def send(self, command: Command) -> None:
        self.client.publish(TOPICS.command(SERIAL), encode(command), qos=1).wait_for_publish(TIMEOUT_S)

    def until(self, predicate) -> list[Message]:
        """Everything received up to and including the first message that matches."""
        got: list[Message] = []
        while True:
            got.append(self.received.get(timeout=TIMEOUT_S))
            if predicate(got[-1]):
                return got

    def drain(self, settle_s: float = 0.3) -> list[Message]:
        time.sleep(settle_s)
        got = []
        while not self.received.empty():
            got.append(self.received.get_nowait())
        return got

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def platform(mqtt_broker):
    watcher = Platform(mqtt_broker)
    yield watcher
    watcher.close()


@pytest.fixture
def make_fleet(mqtt_broker):
    fleets = []

    def make(**options) -> Fleet:
        fleets.append(Fleet(mqtt_broker, **({"active_interval": 0.05, "tick": 0.05, "record": True} | options)))
        return fleets[-1]

    yield make
    for fleet in fleets:
        fleet.stop()
        assert fleet.errors == 0


def close(limit=None) -> Command:
    return Command(cmd_id="close-1", action="close", ch=1, session_id=7, energy_limit_wh=limit,
                   deadline=datetime.now(UTC) + timedelta(seconds=30))


def uplink(messages: list[Message]) -> list[Message]:
    return [m for m in messages if not isinstance(m, Status)]


def once_each(messages: list[Message]) -> list[Message]:
    """QoS 1 is at least once: the broker may hand a message on twice (the platform stores it once by its
    boot and seq); what must hold is that none is missing and they come in the meter's order."""
    seen, first = set(), []
    for m in messages:
        if (key := (type(m).__name__, getattr(m, "boot_id", None), m.seq)) not in seen:
            seen.add(key)
            first.append(m)
    return first


def is_online(message: Message) -> bool:
    return isinstance(message, Status) and message.state == "online"


def test_an_offline_meter_keeps_its_limit_and_uploads_its_backlog_in_order(make_fleet, platform):
    fleet = make_fleet()
    fleet.add_meter(SERIAL, 1, loads={1: constant(18_000)})  # 5 Wh per second
    fleet.start()
    assert fleet.wait_connected(TIMEOUT_S)
    platform.send(close(limit=3))
    platform.until(lambda m: isinstance(m, Telemetry) and m.outlets[0].relay == "closed")

    fleet.go_offline(SERIAL)
    platform.until(lambda m: isinstance(m, Status) and m.state == "offline")  # the will: no clean goodbye
    deadline = time.monotonic() + TIMEOUT_S
    while fleet.register_wh(SERIAL, 1) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    assert fleet.register_wh(SERIAL, 1) == 3  # cut at the limit with no platform to ask
    assert uplink(platform.drain()) == []
    assert fleet.backlog(SERIAL) > 0
    fleet.go_online(SERIAL)
    assert fleet.wait_connected(TIMEOUT_S) and fleet.wait_uploaded(TIMEOUT_S)

    fleet.stop()
    platform.drain()
    got = once_each(uplink(platform.log))
    assert got == fleet.published(SERIAL)  # all of it, in the order the meter made it
    assert [m.seq for m in got] == list(range(len(got)))
    ended = [m for m in got if isinstance(m, SessionEnded)]
    assert [(e.energy_wh, e.reason) for e in ended] == [(3, "limit_reached")]


def test_a_backlog_goes_out_at_the_pace_the_platform_accepts(make_fleet, platform):
    pace = RateLimit(per_second=20, burst=5)
    fleet = make_fleet(active_interval=0.1, idle_interval=0.1, uplink_pace=pace)  # 10 messages/s of its own
    fleet.add_meter(SERIAL, 1)
    fleet.start()
    assert fleet.wait_connected(TIMEOUT_S)
    fleet.go_offline(SERIAL)
    platform.until(lambda m: isinstance(m, Status) and m.state == "offline")
    time.sleep(4.0)
    waiting, mark = fleet.backlog(SERIAL), len(platform.log)
    fleet.go_online(SERIAL)
    assert fleet.wait_connected(TIMEOUT_S) and fleet.wait_uploaded(TIMEOUT_S)
    fleet.stop()
    platform.drain()

    firsts = {id(m) for m in once_each(uplink(platform.log))}
    times = [t for t, m in zip(platform.arrived[mark:], platform.log[mark:]) if id(m) in firsts]
    assert waiting >= 15 and len(times) >= waiting
    # Unpaced, the backlog arrives within a few milliseconds; a slow machine only makes it take longer.
    assert times[waiting - 1] - times[0] >= (waiting - pace.burst - 1) / pace.per_second
    assert once_each(uplink(platform.log)) == fleet.published(SERIAL)


def test_a_full_outbox_drops_old_telemetry_but_never_the_session_record(make_fleet, platform):
    fleet = make_fleet(outbox_capacity=5, idle_interval=0.05)
    fleet.add_meter(SERIAL, 1, loads={1: constant(18_000)})
    fleet.start()
    assert fleet.wait_connected(TIMEOUT_S)
    platform.send(close(limit=2))
    platform.until(lambda m: isinstance(m, Telemetry) and m.outlets[0].relay == "closed")
    fleet.go_offline(SERIAL)
    time.sleep(1.5)  # 30 telemetry messages for a flash that holds 5
    fleet.go_online(SERIAL)

    got = platform.until(lambda m: isinstance(m, SessionEnded))
    assert fleet.overflowed(SERIAL) > 0
    assert len(uplink(got)) <= 5 + 2  # what the meter had handed on before it went offline may add a little
    assert [m.seq for m in uplink(got)] == sorted(m.seq for m in uplink(got))


def test_offline_windows_take_the_meter_off_the_network_by_themselves(make_fleet, platform):
    fleet = make_fleet(faults=Faults(offline_windows=((0.5, 1.2),)))
    fleet.add_meter(SERIAL, 1)
    fleet.start()
    got = platform.until(lambda m: isinstance(m, Status) and m.state == "offline")
    assert any(is_online(m) for m in got)
    assert fleet.wait_connected(TIMEOUT_S)
    platform.until(is_online)


def test_duplicate_delivery_publishes_every_message_twice_in_order(make_fleet, platform):
    fleet = make_fleet(faults=Faults(duplicate_rate=1.0))
    fleet.add_meter(SERIAL, 1)
    fleet.start()
    assert fleet.wait_connected(TIMEOUT_S)
    platform.send(close())
    platform.until(lambda m: isinstance(m, Telemetry) and m.outlets[0].relay == "closed")
    fleet.stop()
    published = fleet.published(SERIAL)
    assert [m.seq for m in published[::2]] == [m.seq for m in published[1::2]]


def test_a_register_reset_announces_the_new_boot(make_fleet, platform):
    fleet = make_fleet()
    meter = fleet.add_meter(SERIAL, 1, registers_wh={1: 900})
    fleet.start()
    assert fleet.wait_connected(TIMEOUT_S)
    first_boot = meter.boot_id
    fleet.reset_register(SERIAL)
    back = platform.until(lambda m: is_online(m) and m.boot_id != first_boot)[-1]
    assert back.boot_id == meter.boot_id
    telemetry = platform.until(lambda m: isinstance(m, Telemetry) and m.boot_id == meter.boot_id)[-1]
    assert telemetry.outlets[0].energy_wh == 0


def test_run_fleet_takes_faults(mqtt_broker, capsys):
    run_fleet(f"mqtt://{mqtt_broker.host}:{mqtt_broker.port}", count=2, channels=1, serial_prefix="FLT",
              seconds=0.3, seed=1, faults=Faults(drop_rate=0.1, clock_skew_s=5), outbox_capacity=50)
    printed = capsys.readouterr().out
    assert "faults: " in printed and "drop_rate=0.1" in printed and "0 errors" in printed
