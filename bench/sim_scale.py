"""How the simulator scales: N meters from one process, against 500 meters measured in the same run.

Each size runs in its own process (so CPU and peak RSS are its own) against the broker at MQTT_URL,
under a unique topic and serial prefix. A counting client subscribed to the fleet's topics confirms
that telemetry really arrives at the broker. Every meter says offline and disconnects at the end.
Run: PYTHONPATH=. .venv/bin/python bench/sim_scale.py [--meters 5000] [--channels 2] [--seconds 30]
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from device_gateway.broker_url import BrokerAddress
from firmware_sim.cli import build_fleet

BASELINE_METERS = 500
CONNECT_TIMEOUT_S = 60.0


class Counter:
    """A platform-side client counting what arrives under the prefix, per topic kind."""

    def __init__(self, broker: BrokerAddress, prefix: str):
        self.telemetry = 0
        self.offline = 0
        self._lock = threading.Lock()
        subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"count-{uuid.uuid4().hex[:8]}")
        self.client.on_connect = lambda c, *_: c.subscribe(f"{prefix}/m/+/+", 0)
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        if not subscribed.wait(10):
            raise RuntimeError("the counting client could not subscribe")

    def _on_message(self, client, userdata, msg) -> None:
        with self._lock:
            if msg.topic.endswith("/telemetry"):
                self.telemetry += 1
            elif msg.topic.endswith("/status") and b'"offline"' in msg.payload:
                self.offline += 1

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_one(url: str, meters: int, channels: int, seconds: float) -> dict:
    """Run `meters` meters for `seconds` and measure them; the numbers are for this process only."""
    broker = BrokerAddress.parse(url)
    run = uuid.uuid4().hex[:6]
    prefix = f"simscale-{run}/v1"
    counter = Counter(broker, prefix)
    fleet = build_fleet(broker, meters, channels, prefix, f"S{run}-", seed=1)
    cpu0, started = cpu_s(), time.monotonic()
    fleet.start()
    all_connected = fleet.wait_connected(CONNECT_TIMEOUT_S)
    connected_s = time.monotonic() - started
    counted0, window0 = counter.telemetry, time.monotonic()
    time.sleep(max(0.0, seconds - connected_s))
    counted, window = counter.telemetry - counted0, time.monotonic() - window0
    cpu_run = cpu_s() - cpu0
    fleet.stop(timeout=30)
    time.sleep(1.0)  # let the last offline statuses reach the counter
    counter.close()
    return {
        "meters": meters,
        "all_connected": all_connected,
        "connect_s": round(connected_s, 2),
        "telemetry_per_s": round(counted / window, 1) if window > 0 else 0.0,
        "expected_per_s": round(meters / fleet.idle_interval, 1),
        "cpu_s": round(cpu_run, 1),
        "cpu_share": round(cpu_run / (time.monotonic() - started), 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "offline_said": counter.offline,
        "errors": fleet.errors,
    }


def run_in_child(url: str, meters: int, channels: int, seconds: float) -> dict:
    command = [sys.executable, __file__, "--only", str(meters), "--channels", str(channels),
               "--seconds", str(seconds), "--mqtt-url", url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120, env=os.environ)
    if done.returncode != 0:
        raise RuntimeError(f"the {meters}-meter run failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(result: dict) -> str:
    return (f"{result['meters']:>6} meters: all connected={result['all_connected']} in {result['connect_s']} s; "
            f"telemetry {result['telemetry_per_s']}/s at the broker (expected {result['expected_per_s']}/s); "
            f"CPU {result['cpu_s']} s ({result['cpu_share']:.0%} of one core); peak RSS {result['peak_rss_mb']} MB; "
            f"offline statuses {result['offline_said']}; errors {result['errors']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meters", type=int, default=5000)
    parser.add_argument("--channels", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--mqtt-url", default=os.environ.get("MQTT_URL", "mqtt://127.0.0.1:1883"))
    parser.add_argument("--only", type=int, help=argparse.SUPPRESS)  # one size, as the child process
    args = parser.parse_args()
    if args.only:
        print(json.dumps(run_one(args.mqtt_url, args.only, args.channels, args.seconds)))
        return
    for meters in (BASELINE_METERS, args.meters):
        print(report(run_in_child(args.mqtt_url, meters, args.channels, args.seconds)), flush=True)


if __name__ == "__main__":
    main()
