"""Simulated meters for the demo site, connected over MQTT exactly like real ones."""
from collections.abc import Callable, Mapping

from backend.points.models import Purpose
from device_gateway.broker_url import BrokerAddress
from firmware_sim import loads
from firmware_sim.fleet import Fleet
from firmware_sim.loads import LoadProfile
from scanpower.demo import DemoMeter

LoadChooser = Callable[[DemoMeter], Mapping[int, LoadProfile]]
_STALL_APPLIANCES = (loads.stall_lights, loads.cooker, loads.fridge, loads.cooker)


def demo_loads(meter: DemoMeter) -> dict[int, LoadProfile]:
    """A pump on an irrigation well; lights, cookers and fridges at market stalls."""
    if meter.purpose == Purpose.irrigation:
        return {ch: loads.irrigation_pump(seed=ch) for ch in range(1, meter.channels + 1)}
    return {ch: _STALL_APPLIANCES[ch % len(_STALL_APPLIANCES)](seed=ch) for ch in range(1, meter.channels + 1)}


def start_demo_fleet(broker: BrokerAddress, prefix: str, meters: list[DemoMeter],
                     choose_loads: LoadChooser = demo_loads) -> Fleet:
    fleet = Fleet(broker, prefix=prefix)
    for meter in meters:
        fleet.add_meter(meter.serial, meter.channels, password=meter.password, loads=choose_loads(meter))
    fleet.start()
    if not fleet.wait_connected(15):
        raise RuntimeError(f"simulated meters could not connect to {broker.url}")
    return fleet
