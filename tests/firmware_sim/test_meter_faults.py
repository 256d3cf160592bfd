"""A simulated meter under faults: register resets, late commands, and the fault settings themselves."""
from datetime import UTC, datetime, timedelta

import pytest

from device_gateway.protocol import Ack, Command, SessionEnded
from firmware_sim.faults import FaultDice, Faults
from firmware_sim.loads import constant
from firmware_sim.meter import SimulatedMeter

T0 = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def command(action="close", limit=None, cmd_id=None, deadline=at(86_400)) -> Command:
    return Command(cmd_id=cmd_id or action, action=action, ch=1, session_id=11, energy_limit_wh=limit,
                   deadline=deadline)


def only(messages, kind):
    found = [m for m in messages if isinstance(m, kind)]
    assert len(found) == 1, messages
    return found[0]


@pytest.fixture
def meter() -> SimulatedMeter:
    m = SimulatedMeter("SP0001", 2, boot_id="boot-1", loads={1: constant(3600)}, registers_wh={1: 5000, 2: 70})
    m.advance(T0)
    return m


def test_a_register_reset_starts_a_new_boot_with_every_register_and_seq_at_zero(meter):
    meter.telemetry(T0)
    meter.reset_register(at(1))
    assert meter.boot_id != "boot-1"
    assert (meter.register_wh(1), meter.register_wh(2)) == (0, 0)
    assert meter.telemetry(at(1)).seq == 0


def test_a_session_keeps_its_allowance_across_a_register_reset(meter):
    meter.handle_command(command(limit=10), T0)
    meter.advance(at(4))  # 4 Wh at 3600 W
    meter.reset_register(at(4))
    assert meter.advance(at(9)) == []
    ended = only(meter.advance(at(11)), SessionEnded)
    assert ended.energy_wh == meter.register_wh(1) == 6
    assert meter.metered_wh(11) == 10


def test_metered_energy_is_the_ground_truth_of_an_open_session_too(meter):
    meter.handle_command(command(), T0)
    meter.advance(at(7))
    meter.reset_register(at(7))
    meter.advance(at(10))
    assert meter.metered_wh(11) == 10
    stop = only(meter.handle_command(command("open"), at(10)), Ack)
    assert (stop.energy_wh, meter.metered_wh(11)) == (3, 10)
    assert meter.metered_wh(99) is None


def test_a_close_refused_as_late_acts_when_sent_again_with_a_new_deadline(meter):
    late = only(meter.handle_command(command(deadline=at(-1)), at(5)), Ack)
    assert (late.result, late.reason) == ("rejected", "deadline passed")
    again = only(meter.handle_command(command(deadline=at(60)), at(6)), Ack)
    assert again.result == "ok"
    assert meter.telemetry(at(6)).outlets[0].relay == "closed"


def test_a_stop_is_obeyed_even_after_its_deadline(meter):
    meter.handle_command(command(), T0)
    late = only(meter.handle_command(command("open", deadline=at(-1)), at(5)), Ack)
    assert (late.result, late.energy_wh) == ("ok", 5005)
    assert meter.telemetry(at(5)).outlets[0].relay == "open"


def test_fault_rates_are_shares_and_offline_windows_run_forward():
    with pytest.raises(ValueError):
        Faults(drop_rate=1.5)
    with pytest.raises(ValueError):
        Faults(offline_windows=((5, 2),))
    with pytest.raises(ValueError):
        Faults(lossy_kinds=frozenset({"status"}))


def test_offline_windows_and_resets_are_found_by_time():
    faults = Faults(offline_windows=((1, 2), (5, 6)), register_resets_at=(3, 4))
    assert [faults.offline_at(t) for t in (0.5, 1, 1.9, 2, 5.5)] == [False, True, True, False, True]
    assert faults.resets_between(0, 3) == 1 and faults.resets_between(3, 10) == 1


def test_the_dice_lose_and_repeat_about_their_share_of_messages_reproducibly():
    faults = Faults(drop_rate=0.2, duplicate_rate=0.5)
    dice = FaultDice(faults, "SP1")
    rolls = [dice.copies("telemetry") for _ in range(2000)]
    assert 0.15 < rolls.count(0) / 2000 < 0.25
    assert 0.35 < rolls.count(2) / 2000 < 0.45  # half of the 80 % that were not lost
    again = FaultDice(faults, "SP1")
    assert [again.copies("telemetry") for _ in range(2000)] == rolls


def test_kinds_outside_lossy_kinds_always_go_once():
    dice = FaultDice(Faults(drop_rate=1.0, lossy_kinds=frozenset({"telemetry"})), "SP1")
    assert {dice.copies("ack") for _ in range(50)} == {1}
    assert {dice.copies("telemetry") for _ in range(50)} == {0}
