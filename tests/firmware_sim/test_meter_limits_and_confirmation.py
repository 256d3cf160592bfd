"""The meter enforces the platform's power limits itself, and repeats its stop record until confirmed."""
from datetime import UTC, datetime, timedelta

from device_gateway.protocol import Command, Configure, OutletLimit, SessionEnded
from firmware_sim.loads import constant
from firmware_sim.meter import SimulatedMeter

T0 = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def close(ch: int, session_id: int) -> Command:
    return Command(cmd_id=f"c{session_id}", action="close", ch=ch, session_id=session_id, deadline=at(3600))


def limits(outlet_w: float, total_w: float | None = None) -> Configure:
    return Configure(cmd_id="limits-1", action="configure", deadline=at(3600), max_total_power_w=total_w,
                     outlets=[OutletLimit(ch=1, max_power_w=outlet_w), OutletLimit(ch=2, max_power_w=outlet_w)])


def ended(messages) -> list[SessionEnded]:
    return [m for m in messages if isinstance(m, SessionEnded)]


def test_an_outlet_drawing_more_than_its_limit_trips_with_reason_overload():
    meter = SimulatedMeter("M1", 2, loads={1: constant(5000), 2: constant(1000)})
    assert meter.handle_command(limits(3680), at(0)) == []  # not acknowledged
    messages = meter.handle_command(close(1, 7), at(1)) + meter.handle_command(close(2, 8), at(1))
    records = ended(messages + meter.advance(at(2)))
    assert [(r.session_id, r.reason) for r in records] == [(7, "overload")]
    assert meter.outlets[1].relay == "open" and meter.outlets[2].relay == "closed"


def test_the_point_over_its_capacity_trips_the_biggest_load_first():
    meter = SimulatedMeter("M1", 2, loads={1: constant(3000), 2: constant(2500)})
    meter.handle_command(limits(3680, total_w=4000), at(0))
    meter.handle_command(close(1, 7), at(1))
    meter.handle_command(close(2, 8), at(1))
    assert [(r.session_id, r.reason) for r in ended(meter.advance(at(2)))] == [(7, "overload")]


def test_a_stop_record_is_repeated_unchanged_until_the_platform_confirms_it():
    meter = SimulatedMeter("M1", 1, loads={1: constant(3600)})
    meter.handle_command(Command(cmd_id="c1", action="close", ch=1, session_id=5, energy_limit_wh=10,
                                 deadline=at(3600)), at(0))
    first = ended(meter.advance(at(20)))
    assert [r.reason for r in first] == ["limit_reached"]
    assert ended(meter.advance(at(25))) == []
    assert ended(meter.advance(at(31))) == first  # the same record, same seq: the platform dedupes it
    meter.handle_command(Command(cmd_id="ce-5", action="confirm_end", ch=1, session_id=5, deadline=at(3600)),
                         at(32))
    assert ended(meter.advance(at(60))) == [] and not meter.awaiting_confirmation


def test_a_stop_record_is_not_repeated_while_the_meter_is_offline():
    meter = SimulatedMeter("M1", 1, loads={1: constant(3600)})
    meter.handle_command(Command(cmd_id="c1", action="close", ch=1, session_id=5, energy_limit_wh=10,
                                 deadline=at(3600)), at(0))
    first = ended(meter.advance(at(20)))
    meter.connected = False
    assert ended(meter.advance(at(40))) == [] and ended(meter.advance(at(80))) == []
    meter.connected = True
    assert ended(meter.advance(at(81))) == first


def test_losing_the_supply_ends_every_running_session_with_power_loss_and_keeps_the_relays_open():
    meter = SimulatedMeter("M1", 2, loads={1: constant(3600), 2: constant(3600)})
    meter.handle_command(close(1, 7), at(0))
    records = ended(meter.lose_supply(at(10)))
    assert [(r.session_id, r.reason, r.energy_wh) for r in records] == [(7, "power_loss", 10)]
    assert {o.relay for o in meter.outlets.values()} == {"open"}
    assert ended(meter.advance(at(3600))) == records  # its repeat, while unconfirmed
    assert meter.register_wh(1) == 10
