"""The simulated DL/T 645 meter: answers only its address, counts in 0.01 kWh, and its relay obeys 0x1C only with
the right password, operator code and an unexpired command."""
from datetime import timedelta
from decimal import Decimal

from backend.core.clock import utcnow
from device_gateway.dlt645 import codec
from device_gateway.dlt645.codec import DataId, ErrorBit, RelayAction, RelayCommand
from firmware_sim import loads
from firmware_sim.dlt645.meter import Dlt645Meter

T0 = utcnow()
ADDRESS = "000000000101"


def relay(meter: Dlt645Meter, action: RelayAction, password="02000000", operator="00000000", expires=None, at=T0):
    command = RelayCommand(password, operator, action, expires or at + timedelta(minutes=1))
    return meter.answer(codec.relay_request(ADDRESS, command), at)


def read(meter: Dlt645Meter, di: DataId, at=T0) -> bytes:
    return codec.reply_value(meter.answer(codec.read_request(ADDRESS, di), at), di)


def test_it_answers_only_frames_for_its_address():
    meter = Dlt645Meter(ADDRESS)
    assert meter.answer(codec.read_request("000000000102", DataId.FORWARD_ACTIVE_ENERGY), T0) is None
    assert meter.answer(codec.read_reply(ADDRESS, DataId.VOLTAGE_A, codec.voltage_value(Decimal(220))), T0) is None


def test_the_register_shows_whole_counts_of_10_wh_of_exactly_what_was_drawn():
    meter = Dlt645Meter(ADDRESS, loads.constant(3600), Decimal(0))
    relay(meter, RelayAction.CLOSE)
    assert codec.energy_wh(read(meter, DataId.FORWARD_ACTIVE_ENERGY, T0 + timedelta(seconds=19))) == 10  # 19 Wh
    assert codec.energy_wh(read(meter, DataId.FORWARD_ACTIVE_ENERGY, T0 + timedelta(seconds=20))) == 20
    assert meter.energy_wh == Decimal(20)
    assert codec.power_w(read(meter, DataId.ACTIVE_POWER, T0 + timedelta(seconds=20))) == Decimal("3600.0")
    assert codec.current_a(read(meter, DataId.CURRENT_A, T0 + timedelta(seconds=20))) == Decimal("16.364")


def test_the_relay_closes_and_trips_and_status_word_3_says_so():
    meter = Dlt645Meter(ADDRESS)
    assert codec.status_word_3(read(meter, DataId.STATUS_WORD_3)).relay_open
    assert relay(meter, RelayAction.CLOSE).control == 0x9C
    word = codec.status_word_3(read(meter, DataId.STATUS_WORD_3))
    assert not word.relay_open and not word.ordered_open
    relay(meter, RelayAction.TRIP)
    assert codec.status_word_3(read(meter, DataId.STATUS_WORD_3)) == codec.StatusWord3.of(True, True)


def test_a_wrong_password_or_operator_or_an_expired_command_is_refused():
    meter = Dlt645Meter(ADDRESS, operator_code="11223344")
    wrong = relay(meter, RelayAction.CLOSE, password="02000001", operator="11223344")
    assert (wrong.control, codec.error_byte(wrong)) == (0xDC, ErrorBit.UNAUTHORISED)
    assert codec.error_byte(relay(meter, RelayAction.CLOSE)) == ErrorBit.UNAUTHORISED
    late = relay(meter, RelayAction.CLOSE, operator="11223344", expires=T0 - timedelta(seconds=1))
    assert codec.error_byte(late) == ErrorBit.OTHER
    assert meter.relay_open and meter.commands == []


def test_allow_close_waits_for_the_customers_button():
    meter = Dlt645Meter(ADDRESS)
    relay(meter, RelayAction.ALLOW_CLOSE)
    assert meter.relay_open and not codec.status_word_3(read(meter, DataId.STATUS_WORD_3)).ordered_open


def test_a_stuck_relay_accepts_the_command_and_does_not_move():
    meter = Dlt645Meter(ADDRESS, stuck=True)
    assert relay(meter, RelayAction.CLOSE).control == 0x9C
    assert codec.status_word_3(read(meter, DataId.STATUS_WORD_3)).relay_open


def test_an_unknown_identifier_is_the_no_data_error():
    meter = Dlt645Meter(ADDRESS)
    reply = meter.answer(codec.read_request(ADDRESS, 0x04000401), T0)
    assert (reply.control, codec.error_byte(reply)) == (0xD1, ErrorBit.NO_DATA)
