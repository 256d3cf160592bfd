"""One request at a time on a DTU's bus, on a fake clock: timeouts, retries, replies matched, strays counted."""
import pytest

from device_gateway.dlt645 import codec
from device_gateway.dlt645.bus import Bus, BusBusy
from device_gateway.dlt645.codec import DataId

A, B = "000000000001", "000000000002"
READ_A = codec.read_request(A, DataId.FORWARD_ACTIVE_ENERGY)
REPLY_A = codec.read_reply(A, DataId.FORWARD_ACTIVE_ENERGY, codec.energy_value(1230))


def test_a_reply_ends_the_request():
    bus = Bus(timeout_s=2.5, retries=2)
    assert bus.request(READ_A, 0.0) == codec.encode(READ_A)
    outcome = bus.feed(codec.encode(REPLY_A), 0.4)
    assert (outcome.reply, outcome.tries, bus.busy) == (REPLY_A, 1, False)


def test_a_second_request_waits_for_the_first():
    bus = Bus()
    bus.request(READ_A, 0.0)
    with pytest.raises(BusBusy):
        bus.request(codec.read_request(B, DataId.VOLTAGE_A), 0.1)


def test_a_silent_meter_is_asked_again_then_given_up_on():
    bus = Bus(timeout_s=2.5, retries=2)
    bus.request(READ_A, 0.0)
    assert bus.tick(2.4) is None
    assert bus.tick(2.5) == codec.encode(READ_A)
    assert bus.tick(4.9) is None
    assert bus.tick(5.0) == codec.encode(READ_A)
    outcome = bus.tick(7.5)
    assert (outcome.reply, outcome.tries, bus.timeouts, bus.busy) == (None, 3, 3, False)


def test_a_reply_after_a_retry_counts_and_a_late_copy_is_a_stray():
    bus = Bus(timeout_s=2.5, retries=2)
    bus.request(READ_A, 0.0)
    bus.tick(2.5)
    assert bus.feed(codec.encode(REPLY_A), 3.0).tries == 2
    assert bus.feed(codec.encode(REPLY_A), 3.1) is None
    assert bus.unsolicited == 1


def test_replies_from_another_address_or_for_another_item_are_dropped_and_counted():
    bus = Bus()
    bus.request(READ_A, 0.0)
    other_meter = codec.read_reply(B, DataId.FORWARD_ACTIVE_ENERGY, codec.energy_value(10))
    other_item = codec.read_reply(A, DataId.VOLTAGE_A, codec.voltage_value(220))
    echo = READ_A  # a DTU that echoes what it wrote
    assert bus.feed(codec.encode(other_meter) + codec.encode(other_item) + codec.encode(echo), 0.2) is None
    assert (bus.unsolicited, bus.busy) == (3, True)
    assert bus.feed(codec.encode(REPLY_A), 0.3).reply == REPLY_A


def test_a_reply_split_across_messages_completes_when_its_last_byte_comes():
    bus = Bus()
    bus.request(READ_A, 0.0)
    wire = codec.encode(REPLY_A)
    assert bus.feed(wire[:7], 0.1) is None
    assert bus.feed(wire[7:15], 0.2) is None
    assert bus.feed(wire[15:], 0.3).reply == REPLY_A


def test_an_error_reply_answers_the_request():
    bus = Bus()
    bus.request(READ_A, 0.0)
    error = codec.error_reply(A, codec.Function.READ, codec.ErrorBit.NO_DATA)
    assert bus.feed(codec.encode(error), 0.2).reply == error
