from datetime import UTC, datetime, timedelta

import pytest

from device_gateway.protocol import (
    Ack,
    Command,
    SessionEnded,
    Telemetry,
    decode,
    encode,
)
from firmware_sim.loads import constant
from firmware_sim.meter import SimulatedMeter

T0 = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def command(action="close", ch=1, session_id=11, limit=None, cmd_id=None, deadline=at(86_400)) -> Command:
    return Command(
        cmd_id=cmd_id or f"{action}-{ch}-{session_id}",
        action=action,
        ch=ch,
        session_id=session_id,
        energy_limit_wh=limit,
        deadline=deadline,
    )


def only(messages, kind):
    found = [m for m in messages if isinstance(m, kind)]
    assert len(found) == 1, messages
    return found[0]


@pytest.fixture
def meter() -> SimulatedMeter:
    m = SimulatedMeter("SP0001", 2, boot_id="boot-1", loads={1: constant(1000), 2: constant(500)})
    m.advance(T0)
    return m


def test_1000_w_for_an_hour_meters_1000_wh(meter):
    meter.handle_command(command(), T0)
    meter.advance(at(3600))
    assert meter.register_wh(1) == 1000
    assert meter.register_wh(2) == 0


def test_open_relay_meters_nothing(meter):
    meter.advance(at(7200))
    assert meter.register_wh(1) == 0


def test_close_acks_the_start_register_and_closes_the_relay(meter):
    ack = only(meter.handle_command(command(), T0), Ack)
    assert (ack.result, ack.energy_wh, ack.session_id, ack.boot_id) == ("ok", 0, 11, "boot-1")
    outlet = meter.telemetry(T0).outlets[0]
    assert (outlet.relay, outlet.session_id, outlet.power_w) == ("closed", 11, 1000)


def test_limit_cuts_exactly_at_start_plus_limit():
    meter = SimulatedMeter("SP0002", 1, loads={1: constant(1000)}, registers_wh={1: 1234.7})
    meter.advance(T0)
    start = only(meter.handle_command(command(limit=300), T0), Ack).energy_wh
    assert start == 1234
    assert meter.advance(at(900)) == []
    ended = only(meter.advance(at(1200)), SessionEnded)
    assert (ended.reason, ended.energy_wh, ended.session_id, ended.ch) == ("limit_reached", 1534, 11, 1)
    assert meter.register_wh(1) == 1534
    assert meter.telemetry(at(1200)).outlets[0].relay == "open"
    meter.advance(at(5000))
    assert meter.register_wh(1) == 1534


def test_start_keeps_the_fraction_so_the_receipt_matches_what_the_meter_counted():
    meter = SimulatedMeter("SP0003", 1, loads={1: constant(1000)}, registers_wh={1: 10.9})
    meter.advance(T0)
    start = only(meter.handle_command(command(), T0), Ack).energy_wh
    meter.advance(at(36))  # 10 Wh
    stop = only(meter.handle_command(command("open"), at(36)), Ack).energy_wh
    assert (start, stop) == (10, 20)
    assert meter.outlets[1].energy_wh == pytest.approx(20.9)


def test_ack_register_equals_the_reported_register(meter):
    meter.handle_command(command(), T0)
    meter.advance(at(100))
    ack = only(meter.handle_command(command("open"), at(100)), Ack)
    assert ack.energy_wh == meter.telemetry(at(100)).outlets[0].energy_wh == meter.register_wh(1)


def test_a_repeated_cmd_id_is_answered_again_without_acting(meter):
    first = only(meter.handle_command(command(limit=10), T0), Ack)
    meter.advance(at(36))
    meter.handle_command(command("open"), at(36))
    again = only(meter.handle_command(command(limit=10), at(40)), Ack)
    assert again.model_dump(exclude={"seq"}) == first.model_dump(exclude={"seq"})
    assert again.seq > first.seq
    assert meter.telemetry(at(40)).outlets[0].relay == "open"


def test_only_the_recent_cmd_ids_are_remembered():
    meter = SimulatedMeter("SP0004", 1, remembered_commands=2)
    for n in range(3):
        meter.handle_command(command("open", cmd_id=f"c{n}"), T0)
    assert list(meter._acks) == ["c1", "c2"]


def test_close_after_the_deadline_is_rejected(meter):
    ack = only(meter.handle_command(command(deadline=at(-1)), T0), Ack)
    assert (ack.result, ack.reason) == ("rejected", "deadline passed")
    assert meter.telemetry(T0).outlets[0].relay == "open"


def test_close_on_a_missing_channel_is_rejected(meter):
    ack = only(meter.handle_command(command(ch=3), T0), Ack)
    assert (ack.result, ack.reason, ack.energy_wh) == ("rejected", "no such channel", 0)


def test_close_for_another_session_on_a_busy_outlet_is_rejected(meter):
    meter.handle_command(command(session_id=11), T0)
    ack = only(meter.handle_command(command(session_id=12), at(1)), Ack)
    assert (ack.result, ack.reason) == ("rejected", "outlet busy")
    assert meter.telemetry(at(1)).outlets[0].session_id == 11


def test_close_retried_with_a_new_cmd_id_acks_the_same_start(meter):
    meter.handle_command(command(), T0)
    meter.advance(at(36))
    ack = only(meter.handle_command(command(cmd_id="retry"), at(36)), Ack)
    assert (ack.result, ack.energy_wh) == ("ok", 0)


def test_close_of_a_session_that_ended_is_rejected(meter):
    meter.handle_command(command(limit=1), T0)
    meter.advance(at(3600))
    ack = only(meter.handle_command(command(cmd_id="late-retry"), at(3600)), Ack)
    assert (ack.result, ack.reason) == ("rejected", "session ended")


def test_open_of_an_ended_session_acks_its_stop_register(meter):
    meter.handle_command(command(limit=5), T0)
    meter.advance(at(3600))
    meter.handle_command(command(session_id=12, cmd_id="next"), at(3600))
    meter.advance(at(7200))
    ack = only(meter.handle_command(command("open"), at(7200)), Ack)
    assert (ack.result, ack.energy_wh) == ("ok", 5)
    assert meter.telemetry(at(7200)).outlets[0].session_id == 12


def test_open_of_an_idle_outlet_is_ok_and_changes_nothing(meter):
    ack = only(meter.handle_command(command("open", session_id=99), T0), Ack)
    assert (ack.result, ack.energy_wh) == ("ok", 0)


def test_a_close_that_arrives_after_the_open_of_its_session_is_refused(meter):
    opened = only(meter.handle_command(command("open", session_id=11), T0), Ack)
    late = only(meter.handle_command(command("close", session_id=11), at(1)), Ack)
    assert (opened.result, late.result, late.reason) == ("ok", "rejected", "session ended")
    assert meter.telemetry(at(1)).outlets[0].relay == "open"


def test_open_of_another_session_does_not_cut_it(meter):
    meter.handle_command(command(session_id=11), T0)
    meter.handle_command(command("open", session_id=12), at(1))
    assert meter.telemetry(at(1)).outlets[0].relay == "closed"


def test_seq_strictly_increases_across_all_uplink_messages(meter):
    messages = [*meter.handle_command(command(limit=1), T0), meter.telemetry(T0)]
    messages += meter.advance(at(3600)) + [meter.telemetry(at(3600))]
    messages += meter.handle_command(command(limit=1), at(3601))
    seqs = [m.seq for m in messages]
    assert len(seqs) == 5
    assert seqs == sorted(set(seqs))


def test_telemetry_reports_every_outlet_with_plausible_electrics(meter):
    meter.handle_command(command(), T0)
    telemetry = meter.telemetry(T0)
    assert [o.ch for o in telemetry.outlets] == [1, 2]
    closed = telemetry.outlets[0]
    assert 217 <= closed.voltage_v <= 223
    assert closed.current_a == pytest.approx(1000 / closed.voltage_v, abs=1e-3)
    assert telemetry.outlets[1].session_id is None
    assert decode("telemetry", encode(telemetry)) == telemetry


def test_time_going_backwards_meters_nothing(meter):
    meter.handle_command(command(), T0)
    meter.advance(at(36))
    meter.advance(at(-3600))
    meter.advance(at(36))
    assert meter.register_wh(1) == 10


def test_status_messages_carry_the_boot_id(meter):
    assert meter.status("online", T0).boot_id == "boot-1"
    assert meter.status("offline").ts is None


def test_a_boot_id_is_made_when_none_is_given():
    boot_ids = {SimulatedMeter("SP9", 1).boot_id for _ in range(3)}
    assert len(boot_ids) == 3
    assert isinstance(SimulatedMeter("SP9", 1).telemetry(T0), Telemetry)


def test_outlet_count_is_bounded_by_the_protocol():
    with pytest.raises(ValueError):
        SimulatedMeter("SP9", 33)
