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
