"""Run a fleet of simulated meters from the command line (wired into `scanpower sim`)."""
import random
import time
from collections import Counter

from device_gateway.broker_url import BrokerAddress
from firmware_sim.faults import NO_FAULTS, Faults
from firmware_sim.fleet import Fleet
from firmware_sim.loads import random_load
from firmware_sim.outbox import DEFAULT_CAPACITY

CONNECT_TIMEOUT_S = 10.0


def run_fleet(
    broker_url: str,
    count: int,
    channels: int,
    prefix: str = "scanpower/v1",
    serial_prefix: str = "SIM",
    seconds: float | None = None,
    seed: int | None = None,
    faults: Faults = NO_FAULTS,
    outbox_capacity: int = DEFAULT_CAPACITY,
) -> None:
    """Run `count` meters with random realistic loads until Ctrl-C or for `seconds`, with `faults` if given."""
    fleet = build_fleet(BrokerAddress.parse(broker_url), count, channels, prefix, serial_prefix, seed,
                        faults, outbox_capacity)
    print(describe(fleet, channels))
    fleet.start()
    try:
        if not fleet.wait_connected(CONNECT_TIMEOUT_S):
            print(f"not every meter connected within {CONNECT_TIMEOUT_S:.0f} s; they keep retrying")
        _wait(seconds)
    except KeyboardInterrupt:
        pass
    finally:
        fleet.stop()
    print(f"stopped {count} meters; {fleet.errors} errors")


def build_fleet(
    broker: BrokerAddress, count: int, channels: int, prefix: str, serial_prefix: str, seed: int | None,
    faults: Faults = NO_FAULTS, outbox_capacity: int = DEFAULT_CAPACITY,
) -> Fleet:
    rng = random.Random(seed)
    fleet = Fleet(broker, prefix, faults=faults, outbox_capacity=outbox_capacity)
    for i in range(1, count + 1):
        loads = {ch: random_load(rng) for ch in range(1, channels + 1)}
        fleet.add_meter(f"{serial_prefix}{i:05d}", channels, loads=loads)
    return fleet


def describe(fleet: Fleet, channels: int) -> str:
    serials = fleet.serials
    loads = Counter(o.load.name for s in serials for o in fleet.meter(s).outlets.values() if o.load)
    mix = ", ".join(f"{n} {name}" for name, n in sorted(loads.items()))
    span = f"{serials[0]}..{serials[-1]}" if serials else "no meters"
    text = (f"simulating {len(serials)} meters × {channels} outlets ({span}) on {fleet.broker.url} "
            f"under {fleet.topics.prefix}; loads: {mix or 'none'}")
    return text if fleet.faults == NO_FAULTS else f"{text}; faults: {fleet.faults}"


def _wait(seconds: float | None) -> None:
    if seconds is not None:
        time.sleep(seconds)
        return
    while True:
        time.sleep(3600)
