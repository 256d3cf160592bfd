from datetime import UTC, datetime

import pytest

from device_gateway.protocol import Ack, OutletReading, SessionEnded, Telemetry
from firmware_sim.outbox import Outbox

T0 = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)


def telemetry(seq: int) -> Telemetry:
    reading = OutletReading(ch=1, energy_wh=seq, power_w=0.0, voltage_v=220.0, current_a=0.0, relay="open")
    return Telemetry(boot_id="b", seq=seq, ts=T0, outlets=[reading])


def ack(seq: int) -> Ack:
    return Ack(cmd_id=f"c{seq}", action="close", ch=1, session_id=1, result="ok", energy_wh=0, boot_id="b",
               seq=seq, ts=T0)


def ended(seq: int) -> SessionEnded:
    return SessionEnded(ch=1, session_id=1, reason="limit_reached", energy_wh=5, boot_id="b", seq=seq, ts=T0)


def seqs(outbox: Outbox) -> list[int]:
    return [m.seq for m in outbox]


def test_messages_come_out_in_the_order_they_went_in():
    outbox = Outbox(10)
    for message in (telemetry(0), ack(1), telemetry(2), ended(3)):
        outbox.put(message)
    assert [outbox.take().seq for _ in range(4)] == [0, 1, 2, 3]
    assert outbox.take() is None


def test_a_full_outbox_drops_the_oldest_telemetry_and_keeps_acks_and_session_records():
    outbox = Outbox(3)
    for message in (ack(0), telemetry(1), telemetry(2), ended(3), telemetry(4)):
        outbox.put(message)
    assert seqs(outbox) == [0, 3, 4]
    assert outbox.dropped == 2


def test_acks_and_session_records_are_kept_beyond_the_capacity():
    outbox = Outbox(2)
    for message in (telemetry(0), ack(1), ended(2), ack(3)):
        outbox.put(message)
    assert seqs(outbox) == [1, 2, 3]
    assert outbox.dropped == 1


def test_messages_the_network_still_holds_count_against_the_capacity():
    outbox = Outbox(3)
    outbox.in_flight = 2
    outbox.put(telemetry(0))
    outbox.put(telemetry(1))
    assert seqs(outbox) == [1]
    assert outbox.occupied == 3


def test_an_outbox_holds_at_least_one_message():
    with pytest.raises(ValueError):
        Outbox(0)
