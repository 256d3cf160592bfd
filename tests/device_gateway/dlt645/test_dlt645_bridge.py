"""The bridge plays a smart meter over a real broker: it switches simulated DL/T 645 meters behind a simulated DTU
and speaks protocol v1 for them, persisting what a meter keeps in flash."""
import pytest

from firmware_sim import loads
from tests.device_gateway.dlt645.bridge_harness import make_bridge_site


@pytest.fixture
def site(engine, settings):
    made = make_bridge_site(engine, settings, loads=(loads.constant(3000), loads.constant(500)))
    yield made
    made.bridge.stop()
    made.dtu.stop()
    made.platform.close()


def test_close_acknowledges_the_register_read_before_switching_and_telemetry_names_the_session(site):
    register = site.meter_at(1).register_wh
    cmd_id = site.send("close", 1, 101, limit=50_000)
    ack = site.next_of("ack")
    assert (ack["cmd_id"], ack["result"], ack["energy_wh"]) == (cmd_id, "ok", register)
    assert not site.meter_at(1).relay_open
    reading = site.next_of("telemetry", where=lambda m: any(o.get("session_id") == 101 for o in m["outlets"]))
    [outlet] = [o for o in reading["outlets"] if o["ch"] == 1]
    assert outlet["relay"] == "closed" and outlet["power_w"] == 3000.0 and outlet["energy_wh"] % 10 == 0


def test_open_trips_and_acknowledges_the_stop_register_and_a_repeat_gets_the_same_answer(site):
    site.send("close", 1, 102, limit=50_000)
    site.next_of("ack")
    site.next_of("telemetry", where=lambda m: any(o["energy_wh"] > 1_000_000 for o in m["outlets"] if o["ch"] == 1))
    cmd_id = site.send("open", 1, 102)
    ack = site.next_of("ack", where=lambda m: m["action"] == "open")
    assert site.meter_at(1).relay_open and ack["energy_wh"] == site.meter_at(1).register_wh > 1_000_000
    site.send("open", 1, 102, cmd_id=cmd_id)
    again = site.next_of("ack", where=lambda m: m["action"] == "open")
    assert {k: again[k] for k in ("result", "energy_wh", "ts")} == {k: ack[k] for k in ("result", "energy_wh", "ts")}
    assert again["seq"] > ack["seq"]
    late_close = site.send("close", 1, 102, limit=50_000)
    refused = site.next_of("ack", where=lambda m: m["cmd_id"] == late_close)
    assert (refused["result"], refused["reason"]) == ("rejected", "session ended")
    assert site.meter_at(1).relay_open


def test_the_limit_trips_the_relay_before_the_cut_off_and_the_record_repeats_until_confirmed(site):
    start = site.meter_at(1).register_wh
    site.send("close", 1, 103, limit=20)
    site.next_of("ack")
    ended = site.next_of("event", timeout=20)
    assert (ended["type"], ended["reason"], ended["session_id"]) == ("session_ended", "limit_reached", 103)
    assert site.meter_at(1).relay_open
    # The margin (15 Wh at these timings) trips it at the first count: a second one would be past the limit.
    assert ended["energy_wh"] == start + 10
    assert site.next_of("event", timeout=15) == ended  # the same record, until confirmed
    site.send("confirm_end", 1, 103)
    with pytest.raises(AssertionError):
        site.next_of("event", timeout=12)


def test_an_outlet_serving_a_session_refuses_another_and_an_unmapped_channel_does_not_exist(site):
    site.send("close", 1, 104, limit=50_000)
    site.next_of("ack")
    busy = site.send("close", 1, 105, limit=50_000)
    assert site.next_of("ack", where=lambda m: m["cmd_id"] == busy)["reason"] == "outlet busy"
    missing = site.send("close", 3, 106, limit=50_000)
    assert site.next_of("ack", where=lambda m: m["cmd_id"] == missing)["reason"] == "no such channel"


def test_a_close_past_its_deadline_is_refused_and_not_remembered(site):
    late = site.send("close", 1, 107, limit=50_000, deadline_s=-1)
    assert site.next_of("ack", where=lambda m: m["cmd_id"] == late)["reason"] == "deadline passed"
    site.send("close", 1, 107, limit=50_000, cmd_id=late)
    assert site.next_of("ack", where=lambda m: m["cmd_id"] == late)["result"] == "ok"


def test_a_relay_that_does_not_switch_is_refused_and_left_ordered_open(site):
    site.meter_at(2).stuck = True
    cmd_id = site.send("close", 2, 108, limit=50_000)
    ack = site.next_of("ack", where=lambda m: m["cmd_id"] == cmd_id)
    assert (ack["result"], ack["reason"]) == ("rejected", "relay did not switch")
    assert site.meter_at(2).ordered_open  # tripped after the failed close, in case it moves later


def test_a_wrong_password_is_the_meters_refusal(site):
    site.meter_at(2).password = "02999999"
    cmd_id = site.send("close", 2, 109, limit=50_000)
    ack = site.next_of("ack", where=lambda m: m["cmd_id"] == cmd_id)
    assert (ack["result"], ack["reason"]) == ("rejected", "relay refused")
    assert site.meter_at(2).relay_open
