"""Simulated meters for the demo site, connected over MQTT exactly like real ones."""
from backend.points.models import Purpose
from device_gateway.broker_url import BrokerAddress
from firmware_sim.fleet import Fleet
from scanpower.demo import DemoMeter


def start_demo_fleet(broker: BrokerAddress, prefix: str, meters: list[DemoMeter]) -> Fleet:
    fleet = Fleet(broker, prefix=prefix)
    for meter in meters:
        fleet.add_meter(meter.serial, meter.channels, password=meter.password,
                        loads=_loads_for(meter.purpose, meter.channels))
    fleet.start()
    fleet.wait_connected(15)
    return fleet


def _loads_for(purpose: Purpose, channels: int):
    return None  # the simulator picks realistic loads per outlet
