"""Fleet: thousands of simulated meters reporting for minutes; ingest lag, the gateway's CPU and memory, nothing lost.

The meters run in `scanpower sim` processes (5,000 each at most) against a Mosquitto configured as
`scanpower broker-config` writes it; one `scanpower gateway` stores what they send. A counting
subscriber on the same broker is the baseline: every telemetry message it sees must end up stored,
each outlet's reading once. Ingest lag is, per stored reading, the time from the meter taking it to
the platform storing it.

Run:  PYTHONPATH=. .venv/bin/python bench/fleet.py [--database-url postgresql+psycopg://…] \\
          [--meters 20000] [--seconds 300] [--channels 2]
"""
import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import text

from backend.core.db import make_engine
from bench.broker_and_database import bulk_fleet, count_readings, fresh_database, mosquitto, wait
from device_gateway.broker_url import BrokerAddress
from device_gateway.connection import send_at_once

REPO = Path(__file__).resolve().parents[1]
PER_SIMULATOR = 5000
STARTUP_S = 60  # 20,000 meters connecting, each with its status and first readings
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class TelemetryCounter:
    """Counts the telemetry messages the broker delivers under the fleet's prefix (QoS 0: it only watches)."""

    def __init__(self, broker: str, prefix: str):
        self.count = 0
        self._lock = threading.Lock()
        address = BrokerAddress.parse(broker)
        ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"count-{uuid.uuid4().hex[:6]}")
        self.client.on_socket_open = lambda c, u, sock: send_at_once(sock)
        self.client.on_connect = lambda c, *_: c.subscribe(f"{prefix}/m/+/telemetry", 0)
        self.client.on_subscribe = lambda *_: ready.set()
        self.client.on_message = self._on_message
        self.client.connect(address.host, address.port)
        self.client.loop_start()
        ready.wait(10)

    def _on_message(self, client, userdata, message) -> None:
        with self._lock:
            self.count += 1

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def lag_seconds(engine, taken_after: datetime) -> list[float]:
    """Per reading the meters took after `taken_after`: storing time − the meter's time, sorted."""
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT received_at, device_time FROM reading WHERE device_time > :after"),
                                  {"after": taken_after}).all()
    return sorted((received - taken).total_seconds() for received, taken in rows)


def spread(lags: list[float]) -> str:
    at = lambda q: lags[min(len(lags) - 1, round(q * (len(lags) - 1)))]  # noqa: E731
    return f"p50 {at(0.5):.2f} s, p99 {at(0.99):.2f} s, max {lags[-1]:.2f} s"


def run(args) -> list[str]:
    prefix = f"bench-{uuid.uuid4().hex[:6]}/v1"
    simulators = [(f"F{n}", min(PER_SIMULATOR, args.meters - n * PER_SIMULATOR))
                  for n in range((args.meters + PER_SIMULATOR - 1) // PER_SIMULATOR)]
    with mosquitto() as broker, fresh_database(args.database_url) as url:
        for serial_prefix, count in simulators:
            bulk_fleet(url, count, args.channels, serial_prefix)
        engine = make_engine(url)
        env = os.environ | {"DATABASE_URL": url, "MQTT_URL": broker, "MQTT_TOPIC_PREFIX": prefix,
                            "LOG_LEVEL": "WARNING", "PYTHONPATH": str(REPO)}
        quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        gateway = subprocess.Popen([sys.executable, "-m", "scanpower.cli", "gateway", "--no-scheduler"],
                                   env=env | {"GATEWAY_CLIENT_ID": f"gw-{uuid.uuid4().hex[:6]}"}, **quiet)
        counter = TelemetryCounter(broker, prefix)
        time.sleep(3)
        sims = [subprocess.Popen([sys.executable, "-m", "scanpower.cli", "sim", "--count", str(count),
                                  "--channels", str(args.channels), "--serial-prefix", serial_prefix,
                                  "--seconds", str(args.seconds)], env=env, **quiet)
                for serial_prefix, count in simulators]
        try:
            began, cpu_before, started_at = time.monotonic(), cpu_seconds(gateway.pid), datetime.now(UTC)
            peak_rss, marks = 0.0, []
            while any(sim.poll() is None for sim in sims):
                time.sleep(5)
                peak_rss = max(peak_rss, rss_mib(gateway.pid))
                marks.append((time.monotonic() - began, counter.count, count_readings(engine)))
                print(f"{marks[-1][0]:5.0f} s: {marks[-1][1]:,} messages seen, {marks[-1][2]:,} readings stored",
                      flush=True)
            stopped = time.monotonic()
            seen = counter.count
            wait(lambda: count_readings(engine) >= seen * args.channels, 600, "every reading to be stored", every=0.2)
            drained_in = time.monotonic() - stopped
            cpu = cpu_seconds(gateway.pid) - cpu_before
            stored = count_readings(engine)
            lags = lag_seconds(engine, started_at)
            steady = lag_seconds(engine, started_at + timedelta(seconds=STARTUP_S))
        finally:
            for sim in sims:
                sim.terminate()
            gateway.terminate()
            gateway.wait(20)
            counter.close()
        assert stored == seen * args.channels, f"{stored} readings stored for {seen} messages seen"
        rate = seen / args.seconds
        return [f"{args.meters:,} meters × {args.channels} outlets for {args.seconds} s: {seen:,} messages "
                f"({rate:,.0f} msg/s), {stored:,} readings stored, none lost",
                f"ingest lag, all readings: {spread(lags)}",
                f"ingest lag after the first {STARTUP_S} s (every meter connected): {spread(steady)}",
                f"everything stored {drained_in:.1f} s after the last simulator stopped",
                f"gateway: {cpu / args.seconds:.0%} of a core, {peak_rss:.0f} MiB at most",
                f"median arrival rate sampled every 5 s: "
                f"{statistics.median(b[1] - a[1] for a, b in zip(marks, marks[1:])) / 5:,.0f} msg/s"
                if len(marks) > 1 else ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="")
    parser.add_argument("--meters", type=int, default=20_000)
    parser.add_argument("--channels", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=300)
    args = parser.parse_args()
    print("\n".join(line for line in run(args) if line))


if __name__ == "__main__":
    main()
