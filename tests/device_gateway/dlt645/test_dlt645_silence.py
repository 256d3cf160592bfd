"""A DTU that says nothing, on a fake clock: the meter it serves goes offline with an alarm, and back when heard."""
from decimal import Decimal

from sqlmodel import Session

from backend.users.models import Role
from device_gateway.dlt645 import dtu_packets
from device_gateway.dlt645.bridged_meter import BridgedMeter, BridgeTiming, Channel
from device_gateway.dlt645.bus import Bus
from device_gateway.dlt645.bus_link import BusLink
from device_gateway.dlt645.memory import MemoryStore
from tests import factories


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Recorder:
    def __init__(self):
        self.messages, self.events = [], []

    def publish(self, message) -> None:
        self.messages.append(message)

    def silent(self, since) -> None:
        self.events.append("silent")

    def heard(self, at) -> None:
        self.events.append("heard")


def bridged(engine, clock: Clock, recorder: Recorder) -> tuple[BridgedMeter, BusLink]:
    with Session(engine, expire_on_commit=False) as db:
        _, meter = factories.active_point(db, factories.user(db, Role.applicant), outlets=1)
        db.commit()
    link = BusLink("DTU-1", lambda wire: None, Bus(), clock)
    bridge = BridgedMeter(meter.id, meter.serial, [Channel(1, "000000000001", "02000000", "00000000",
                                                           Decimal("3680"))],
                          link, MemoryStore(engine), BridgeTiming(silent_after_s=90), recorder)
    bridge.publisher = recorder
    return bridge, link


def test_a_dtu_not_heard_yet_is_offline_without_an_alarm_until_the_wait_is_over(engine):
    clock, recorder = Clock(), Recorder()
    meter, _ = bridged(engine, clock, recorder)
    assert meter.status().state == "offline"
    clock.now = 89.0
    meter._watch_silence()
    assert recorder.events == [] and recorder.messages == []
    clock.now = 91.0
    meter._watch_silence()
    assert recorder.events == ["silent"] and [m.state for m in recorder.messages] == ["offline"]


def test_heard_then_silent_then_heard_again(engine):
    clock, recorder = Clock(), Recorder()
    meter, link = bridged(engine, clock, recorder)
    link.received(dtu_packets.registration("DTU-1"))
    meter._watch_silence()
    assert meter.status().state == "online" and recorder.events == ["heard"]
    clock.now = 60.0
    link.received(dtu_packets.heartbeat("DTU-1"))
    clock.now = 149.0
    meter._watch_silence()
    assert recorder.events == ["heard"]  # 89 s since the heartbeat: not yet
    clock.now = 151.0
    meter._watch_silence()
    assert recorder.events == ["heard", "silent"] and meter.status().state == "offline"
    link.received(dtu_packets.heartbeat("DTU-1"))
    meter._watch_silence()
    assert recorder.events == ["heard", "silent", "heard"]
    assert [m.state for m in recorder.messages] == ["online", "offline", "online"]
    assert link.registrations == 1


def test_packets_of_another_dtu_are_bus_bytes_not_a_heartbeat(engine):
    clock, recorder = Clock(), Recorder()
    _, link = bridged(engine, clock, recorder)
    assert dtu_packets.packet_kind(b"HB:DTU-2", "DTU-1") is None
    assert dtu_packets.packet_kind(b"HB:DTU-1", "DTU-1") == "heartbeat"
    link.received(b"HB:DTU-2")
    assert link.bus.unsolicited == 0 and link.registrations == 0
