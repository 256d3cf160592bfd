"""Simulated meters for the demo site, connected over MQTT exactly like real ones."""
from collections.abc import Callable, Mapping
from decimal import Decimal

from backend.points.models import Purpose
from device_gateway.broker_url import BrokerAddress
from device_gateway.protocol import Topics
from firmware_sim import loads
from firmware_sim.dlt645.dtu import SimulatedDtu
from firmware_sim.dlt645.meter import Dlt645Meter
from firmware_sim.fleet import Fleet
from firmware_sim.loads import LoadProfile
from scanpower.demo import DemoMeter

LoadChooser = Callable[[DemoMeter], Mapping[int, LoadProfile]]
_STALL_APPLIANCES = (loads.stall_lights, loads.cooker, loads.fridge, loads.cooker)


def demo_loads(meter: DemoMeter) -> dict[int, LoadProfile]:
    """A pump on an irrigation well; lights, cookers and fridges at market stalls."""
    if meter.purpose == Purpose.irrigation:
        return {ch: loads.irrigation_pump(seed=ch) for ch in range(1, meter.channels + 1)}
    if meter.purpose == Purpose.tea_processing:
        return {ch: loads.cooker(seed=ch) for ch in range(1, meter.channels + 1)}  # roasting pans
    return {ch: _STALL_APPLIANCES[ch % len(_STALL_APPLIANCES)](seed=ch) for ch in range(1, meter.channels + 1)}


def start_demo_fleet(broker: BrokerAddress, prefix: str, meters: list[DemoMeter],
                     choose_loads: LoadChooser = demo_loads) -> Fleet:
    fleet = Fleet(broker, prefix=prefix)
    for meter in meters:
        if meter.dtu_id:
            continue  # the DL/T 645 bridge plays this meter; its DTU is simulated below
        fleet.add_meter(meter.serial, meter.channels, password=meter.password, loads=choose_loads(meter))
    fleet.start()
    if not fleet.wait_connected(15):
        raise RuntimeError(f"simulated meters could not connect to {broker.url}")
    return fleet


def start_demo_dtus(broker: BrokerAddress, prefix: str, meters: list[DemoMeter],
                    choose_loads: LoadChooser = demo_loads, heartbeat_s: float = 30.0) -> list[SimulatedDtu]:
    """A simulated DTU for each demo meter behind one, with its DL/T 645 meters at their addresses."""
    started = []
    for meter in (m for m in meters if m.dtu_id):
        chosen = choose_loads(meter)
        # Registers a few Wh short of a 0.01 kWh count, so the first count shows soon after a start.
        bus = [Dlt645Meter(address, chosen.get(ch), Decimal(100_000 * ch + 5))
               for ch, address in enumerate(meter.addresses, 1)]
        dtu = SimulatedDtu(broker, Topics(prefix), meter.dtu_id, bus, meter.dtu_password, heartbeat_s)
        started.append(dtu.start())
    for dtu in started:
        if not dtu.connected.wait(15):
            raise RuntimeError(f"simulated DTU {dtu.dtu_id} could not connect to {broker.url}")
    return started
