"""The DL/T 645-2007 codec: frames, BCD quantities, status word 3, errors and relay control."""
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from device_gateway.dlt645 import codec
from device_gateway.dlt645.codec import BadFrame, DataId, Frame, FrameReader, RelayAction, RelayCommand

ADDRESS = "000000001234"
addresses = st.text("0123456789", min_size=12, max_size=12)
frames = st.builds(Frame, addresses, st.integers(0, 0xFF), st.binary(max_size=40))


def test_a_read_of_forward_active_energy_is_the_frame_every_meter_manual_shows():
    raw = codec.encode(codec.read_request(ADDRESS, DataId.FORWARD_ACTIVE_ENERGY))
    assert raw.hex(" ").upper() == "FE FE FE FE 68 34 12 00 00 00 00 68 11 04 33 33 34 33 F8 16"


def test_addresses_are_bcd_low_byte_first():
    assert codec.address_bytes("123456789012") == bytes([0x12, 0x90, 0x78, 0x56, 0x34, 0x12])
    assert codec.address_text(bytes([0x12, 0x90, 0x78, 0x56, 0x34, 0x12])) == "123456789012"


@pytest.mark.parametrize("bad", ["12345678901", "1234567890123", "12345678901A", "１２３４５６７８９０１２"])
def test_an_address_that_is_not_12_digits_is_refused(bad):
    with pytest.raises(BadFrame):
        codec.address_bytes(bad)


def test_the_energy_register_is_read_exactly_in_10_wh_counts():
    assert codec.energy_wh(bytes([0x89, 0x67, 0x45, 0x23])) == 234_567_890  # 234 567.89 kWh
    with pytest.raises(BadFrame):
        codec.energy_value(15)


def test_current_and_power_carry_their_sign_in_the_top_bit():
    assert codec.current_a(bytes([0x56, 0x34, 0x12])) == Decimal("123.456")
    assert codec.current_a(bytes([0x56, 0x34, 0x92])) == Decimal("-123.456")
    assert codec.power_w(bytes([0x00, 0x68, 0x03])) == Decimal("3680.0")
    assert codec.voltage_v(bytes([0x13, 0x22])) == Decimal("221.3")


def test_bcd_with_a_nibble_above_nine_is_refused():
    with pytest.raises(BadFrame):
        codec.bcd_to_int(bytes([0x1A]))


def test_status_word_3_shows_the_relay_in_bit_4_and_the_command_in_bit_6():
    assert codec.status_word_3(bytes([0x10, 0x00])).relay_open
    assert not codec.status_word_3(bytes([0x40, 0x00])).relay_open
    assert codec.status_word_3(bytes([0x40, 0x00])).ordered_open
    assert codec.status_value(codec.StatusWord3.of(True, True)) == bytes([0x50, 0x00])


def test_an_error_reply_sets_bit_6_and_carries_one_error_byte():
    reply = codec.error_reply(ADDRESS, codec.Function.RELAY, codec.ErrorBit.UNAUTHORISED)
    assert reply.control == 0xDC and reply.is_reply and reply.is_error and reply.function == 0x1C
    assert codec.describe_error(codec.error_byte(reply)) == "unauthorised"
    with pytest.raises(BadFrame):
        codec.reply_value(codec.error_reply(ADDRESS, codec.Function.READ, 0x02), DataId.VOLTAGE_A)


def test_a_relay_command_puts_level_password_operator_action_and_expiry_in_order():
    expires = datetime(2026, 11, 26, 13, 5, 30, tzinfo=codec.METER_TIME_ZONE)
    frame = codec.relay_request(ADDRESS, RelayCommand("02123456", "AABBCCDD", RelayAction.TRIP, expires))
    assert frame.data.hex(" ").upper() == "02 56 34 12 DD CC BB AA 1A 00 30 05 13 26 11 26"
    assert codec.parse_relay_request(frame) == RelayCommand("02123456", "AABBCCDD", RelayAction.TRIP, expires)


def test_the_expiry_is_written_in_beijing_time():
    utc = datetime(2026, 11, 26, 23, 59, 59, tzinfo=UTC)
    assert codec.expiry_bytes(utc) == bytes([0x59, 0x59, 0x07, 0x27, 0x11, 0x26])


def test_an_encrypted_password_level_is_refused_before_it_reaches_a_meter():
    with pytest.raises(BadFrame, match="ESAM"):
        codec.relay_request(ADDRESS, RelayCommand("98000000", "00000000", RelayAction.CLOSE,
                                                  datetime.now(UTC) + timedelta(minutes=1)))


def test_a_buffer_of_garbage_is_dropped_rather_than_grown_forever():
    reader = FrameReader()
    reader.feed(b"\x68" + b"\x00" * 6 + b"\x68\x11\xff" + b"\x00" * (codec.MAX_BUFFERED_BYTES + 10))
    assert reader.buffered <= codec.MAX_BUFFERED_BYTES


# --- properties ----------------------------------------------------------------------------------

@given(frames)
def test_any_frame_round_trips(frame):
    assert FrameReader().feed(codec.encode(frame)) == [frame]


@given(st.lists(frames, max_size=6), st.data())
def test_any_split_or_merge_of_a_stream_with_fe_noise_yields_the_same_frames(sent, data):
    stream = b"".join(b"\xfe" * data.draw(st.integers(0, 6)) + codec.encode(f, data.draw(st.integers(0, 4)))
                      for f in sent)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    reader, received = FrameReader(), []
    for start, end in zip([0, *cuts], [*cuts, len(stream)]):
        received += reader.feed(stream[start:end])
    assert received == sent


@given(frames, st.integers(1, 255), frames)
def test_a_corrupted_checksum_never_yields_that_frame(broken, flip, after):
    raw = bytearray(codec.encode(broken))
    raw[-2] ^= flip
    assert FrameReader().feed(bytes(raw) + codec.encode(after)) == [after]


@given(st.integers(0, 99_999_999))
def test_every_energy_register_value_round_trips_exactly(counts):
    assert codec.energy_wh(codec.energy_value(counts * 10)) == counts * 10


@given(st.integers(-799_999, 799_999))
def test_signed_quantities_round_trip_exactly(counts):
    amps, watts = Decimal(counts).scaleb(-3), Decimal(counts).scaleb(-1)
    assert codec.current_a(codec.current_value(amps)) == amps
    assert codec.power_w(codec.power_value(watts)) == watts


@given(st.integers(0, 9999))
def test_voltage_round_trips_exactly(counts):
    assert codec.voltage_v(codec.voltage_value(Decimal(counts).scaleb(-1))) == Decimal(counts).scaleb(-1)


@given(st.text("0123456789ABCDEF", min_size=8, max_size=8).filter(lambda p: int(p[:2], 16) not in
                                                                  codec.ENCRYPTED_LEVELS),
       st.text("0123456789ABCDEF", min_size=8, max_size=8), st.sampled_from(RelayAction),
       st.datetimes(datetime(2001, 1, 1), datetime(2098, 12, 31)), addresses)
def test_any_relay_command_round_trips(password, operator, action, moment, address):
    expires = moment.replace(microsecond=0, tzinfo=codec.METER_TIME_ZONE)
    command = RelayCommand(password, operator, action, expires)
    [frame] = FrameReader().feed(codec.encode(codec.relay_request(address, command)))
    assert codec.parse_relay_request(frame) == command
