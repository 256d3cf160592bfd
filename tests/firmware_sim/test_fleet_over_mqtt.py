"""The fleet speaking protocol v1 to a real (embedded) broker."""
import logging
import queue
import time
import uuid
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from device_gateway.protocol import (
    Ack,
    Command,
    Message,
    SessionEnded,
    Status,
    Telemetry,
    Topics,
    decode,
    encode,
)
from firmware_sim.cli import run_fleet
from firmware_sim.faults import Faults
from firmware_sim.fleet import Fleet, quarter_hour_of
from firmware_sim.loads import constant

SERIAL = "SIMT0001"
TOPICS = Topics()
TIMEOUT_S = 5.0


class Observer:
    """A platform-side MQTT client that records everything under the prefix."""

    def __init__(self, broker, topic_filter=f"{TOPICS.prefix}/m/#"):
        self.received: queue.Queue = queue.Queue()
        subscribed = queue.Queue()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"observer-{uuid.uuid4().hex[:8]}")
        self.client.on_connect = lambda c, *_: c.subscribe(topic_filter, 1)
        self.client.on_subscribe = lambda *_: subscribed.put(True)
        self.client.on_message = lambda c, u, msg: self.received.put(msg)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        subscribed.get(timeout=TIMEOUT_S)

    def expect(self, kind: str, matches=lambda m: True) -> tuple[Message, bool]:
        """Wait for the next message of a kind that matches; return it and its retain flag."""
        while True:
            msg = self.received.get(timeout=TIMEOUT_S)
            if msg.topic == TOPICS.meter(SERIAL, "cmd"):
                continue
            _, got = TOPICS.parse(msg.topic)
            if got == kind:
                message = decode(kind, msg.payload)
                if matches(message):
                    return message, bool(msg.retain)

    def send(self, command: Command) -> None:
        self.client.publish(TOPICS.command(SERIAL), encode(command), qos=1).wait_for_publish(TIMEOUT_S)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def observe(mqtt_broker):
    observers = []

    def make(topic_filter=f"{TOPICS.prefix}/m/#") -> Observer:
        observers.append(Observer(mqtt_broker, topic_filter))
        return observers[-1]

    yield make
    for observer in observers:
        observer.close()


@pytest.fixture
def fleet(mqtt_broker):
    fleet = Fleet(mqtt_broker, active_interval=0.2, tick=0.05)
    yield fleet
    fleet.stop()
    assert fleet.errors == 0


def close_command(session_id=7, ch=1, limit=None, cmd_id="cmd-close") -> Command:
    deadline = datetime.now(UTC) + timedelta(seconds=30)
    return Command(cmd_id=cmd_id, action="close", ch=ch, session_id=session_id,
                   energy_limit_wh=limit, deadline=deadline)


def test_meter_announces_itself_and_answers_a_close_command(fleet, observe):
    meter = fleet.add_meter(SERIAL, 2, loads={1: constant(3600), 2: constant(100)})
    platform = observe()
    fleet.start()
    assert fleet.wait_connected(TIMEOUT_S)

    online, _ = platform.expect("status")
    assert (online.state, online.boot_id) == ("online", meter.boot_id)
    late_subscriber = observe(TOPICS.meter(SERIAL, "status"))
    retained, retain_flag = late_subscriber.expect("status")
    assert (retained.state, retain_flag) == ("online", True)

    platform.send(close_command())
    ack, _ = platform.expect("ack")
    assert isinstance(ack, Ack)
    assert (ack.cmd_id, ack.result, ack.energy_wh, ack.boot_id) == ("cmd-close", "ok", 0, meter.boot_id)
    telemetry, _ = platform.expect("telemetry", lambda t: t.outlets[0].relay == "closed")
    assert isinstance(telemetry, Telemetry)
    assert (telemetry.outlets[0].session_id, telemetry.outlets[0].power_w) == (7, 3600)
    assert telemetry.seq > ack.seq


def test_an_idle_meter_reports_exactly_at_each_quarter_hour_of_its_clock(fleet, observe):
    now = datetime.now(UTC)
    next_quarter = quarter_hour_of(now) + timedelta(minutes=15)
    # The meter's clock runs just short of the next quarter hour, so the test need not wait for one.
    fleet.add_meter(SERIAL, 1, faults=Faults(clock_skew_s=(next_quarter - now).total_seconds() - 1.5))
    platform = observe()
    fleet.start()
    assert fleet.wait_connected(TIMEOUT_S)
    reading, _ = platform.expect("telemetry", lambda t: t.ts >= next_quarter)
    assert reading.ts == next_quarter
    assert encode(reading).count(next_quarter.strftime('"%Y-%m-%dT%H:%M:00.000Z"').encode()) == 1


def test_open_acks_the_register_the_meter_stopped_at(fleet, observe):
    fleet.add_meter(SERIAL, 1, loads={1: constant(36_000)})
    platform = observe()
    fleet.start()
    assert fleet.wait_connected(TIMEOUT_S)
    platform.send(close_command())
    platform.expect("ack")
    platform.expect("telemetry", lambda t: t.outlets[0].energy_wh >= 2)
    platform.send(close_command(cmd_id="cmd-open").model_copy(update={"action": "open"}))
    ack, _ = platform.expect("ack", lambda a: a.cmd_id == "cmd-open")
    assert ack.result == "ok"
    assert ack.energy_wh == fleet.register_wh(SERIAL, 1) >= 2


def test_meter_cuts_the_session_at_its_limit_by_itself(fleet, observe):
    fleet.add_meter(SERIAL, 1, loads={1: constant(18_000)})
    platform = observe()
    fleet.start()
    assert fleet.wait_connected(TIMEOUT_S)
    platform.send(close_command(limit=2))
    ended, _ = platform.expect("event")
    assert isinstance(ended, SessionEnded)
    assert (ended.reason, ended.energy_wh, ended.session_id) == ("limit_reached", 2, 7)
    assert fleet.register_wh(SERIAL, 1) == 2


def test_a_bad_command_is_logged_and_ignored(fleet, observe, caplog):
    fleet.add_meter(SERIAL, 1)
    platform = observe()
    fleet.start()
    assert fleet.wait_connected(TIMEOUT_S)
    with caplog.at_level(logging.WARNING, logger="firmware_sim"):
        platform.client.publish(TOPICS.command(SERIAL), b'{"v": 1, "action": "explode"}', qos=1)
        platform.send(close_command())
        ack, _ = platform.expect("ack")
    assert ack.result == "ok"
    assert any(TOPICS.command(SERIAL) in r.getMessage() for r in caplog.records)


def test_stopping_leaves_a_retained_offline_status(fleet, observe):
    meter = fleet.add_meter(SERIAL, 1)
    fleet.start()
    assert fleet.wait_connected(TIMEOUT_S)
    fleet.stop()
    status, retain_flag = observe(TOPICS.meter(SERIAL, "status")).expect("status")
    assert isinstance(status, Status)
    assert (status.state, status.boot_id, retain_flag) == ("offline", meter.boot_id, True)


def test_run_fleet_runs_the_meters_for_a_while(mqtt_broker, observe, capsys):
    statuses = observe(f"{TOPICS.prefix}/m/+/status")
    run_fleet(f"mqtt://{mqtt_broker.host}:{mqtt_broker.port}", count=3, channels=2,
              prefix=TOPICS.prefix, serial_prefix="CLI", seconds=0.5, seed=1)
    printed = capsys.readouterr().out
    assert "3 meters" in printed and "CLI00001..CLI00003" in printed and "0 errors" in printed
    # Each meter said online, then offline (the embedded broker may repeat a status; order per meter holds).
    seen: dict[str, list[str]] = {}
    while not (len(seen) == 3 and all(states[-1] == "offline" for states in seen.values())):
        status = statuses.received.get(timeout=TIMEOUT_S)
        seen.setdefault(TOPICS.parse(status.topic)[0], []).append(decode("status", status.payload).state)
    assert all("online" in states for states in seen.values()), seen


def test_a_dropped_connection_leaves_the_will_and_the_meter_comes_back(fleet, observe):
    meter = fleet.add_meter(SERIAL, 1, loads={1: constant(3600)})
    platform = observe()
    fleet.start()
    assert fleet.wait_connected(TIMEOUT_S)
    platform.expect("status", lambda s: s.state == "online")
    fleet.drop_connection(SERIAL)
    will, _ = platform.expect("status")
    assert (will.state, will.boot_id, will.ts) == ("offline", meter.boot_id, None)
    back, _ = platform.expect("status")
    assert (back.state, back.boot_id) == ("online", meter.boot_id)
    assert fleet.wait_connected(TIMEOUT_S)
    platform.send(close_command())
    ack, _ = platform.expect("ack")
    assert ack.result == "ok"


def test_telemetry_is_frequent_only_while_a_relay_is_closed(fleet, observe):
    fleet.add_meter(SERIAL, 1, loads={1: constant(100)})
    platform = observe()
    fleet.start()
    assert fleet.wait_connected(TIMEOUT_S)
    platform.expect("telemetry")
    time.sleep(0.6)
    idle = [m for m in drain(platform) if m.topic.endswith("/telemetry")]
    assert idle == []
    platform.send(close_command())
    platform.expect("ack")
    time.sleep(0.7)
    active = [m for m in drain(platform) if m.topic.endswith("/telemetry")]
    assert len(active) >= 3


def drain(observer: Observer) -> list:
    messages = []
    while not observer.received.empty():
        messages.append(observer.received.get_nowait())
    return messages
