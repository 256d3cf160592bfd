"""Drain: how fast gateways store a backlog of telemetry, against a bare subscriber on the same backlog.

The broker queues a backlog for each consumer while it is away; then the consumer connects and
takes it all. The baseline is a bare paho subscriber that only parses each payload's JSON; the
platform is 1, 2 or 4 `scanpower gateway` processes on a shared subscription, storing every reading
in the database. Both are timed from the first message taken to the last, so start-up is not counted.
Each run checks its own result: every reading stored once, and (with sessions running) every
session's live energy exactly what the meter reported.

Run:  PYTHONPATH=. .venv/bin/python bench/drain.py [--database-url postgresql+psycopg://…] \\
          [--meters 200] [--outlets 4] [--per-meter 100] [--gateways 1,2,4] [--workloads idle,running]
"""
import argparse
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlmodel import Session, select

from backend.core.db import make_engine
from backend.sessions.models import UsageSession
from bench.broker_and_database import (count_readings, fresh_database, make_fleet, mosquitto, prime_session,
                                       publish_backlog, wait)
from device_gateway.protocol import Topics

REPO = Path(__file__).resolve().parents[1]
SHARE_GROUP = "bench"


@dataclass(frozen=True)
class Figure:
    workload: str
    consumer: str
    messages: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.messages / self.seconds


def bare_subscriber(broker: str, topics: Topics, fleet, outlets: int, per_meter: int) -> float:
    """Seconds a plain paho subscriber takes from the first to the last message of the backlog."""
    client_id = f"bare-{uuid.uuid4().hex[:6]}"
    prime_session(broker, client_id, [topics.meter("+", "telemetry")])
    total = publish_backlog(broker, topics, fleet, outlets, per_meter)
    seen, first, last, done = [0], [0.0], [0.0], threading.Event()

    def on_message(client, userdata, message):
        json.loads(message.payload)
        if not seen[0]:
            first[0] = time.perf_counter()
        seen[0] += 1
        if seen[0] == total:
            last[0] = time.perf_counter()
            done.set()

    host, port = broker.removeprefix("mqtt://").split(":")
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
    client.on_message = on_message
    client.connect(host, int(port))
    client.loop_start()
    if not done.wait(300):
        raise TimeoutError(f"the bare subscriber got {seen[0]} of {total} messages")
    client.disconnect()
    client.loop_stop()
    return last[0] - first[0]


def gateways(broker: str, url: str, topics: Topics, fleet, outlets: int, per_meter: int, count: int) -> float:
    """Seconds `count` gateway processes take from the first stored reading to the last of the backlog."""
    ids = [f"gw-bench-{n}-{uuid.uuid4().hex[:4]}" for n in range(count)]
    for client_id in ids:
        prime_session(broker, client_id, topics.uplink_filters(SHARE_GROUP if count > 1 else ""))
    total = publish_backlog(broker, topics, fleet, outlets, per_meter) * outlets
    engine = make_engine(url)
    processes = [subprocess.Popen([sys.executable, "-m", "scanpower.cli", "gateway", "--no-scheduler"],
                                  env=os.environ | {"DATABASE_URL": url, "MQTT_URL": broker,
                                                    "MQTT_TOPIC_PREFIX": topics.prefix, "GATEWAY_CLIENT_ID": client_id,
                                                    "GATEWAY_SHARE_GROUP": SHARE_GROUP if count > 1 else "",
                                                    "LOG_LEVEL": "WARNING", "PYTHONPATH": str(REPO)},
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                 for client_id in ids]
    try:
        wait(lambda: count_readings(engine) > 0, 60, "the first stored reading", every=0.005)
        first = time.perf_counter()
        wait(lambda: count_readings(engine) >= total, 600, f"{total} stored readings", every=0.05)
        seconds = time.perf_counter() - first
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(20)
    assert count_readings(engine) == total, "a reading was stored twice"
    _check_sessions(engine, fleet, per_meter)
    engine.dispose()
    return seconds


def _check_sessions(engine, fleet, per_meter: int) -> None:
    """With sessions running, each one's live energy was counted, never above what its meter reported.

    Live figures are written at most once a second per session, so the last second of a drain may
    not be shown yet; the bill counts every reading.
    """
    ids = [sid for row in fleet for sid in row.sessions.values()]
    if not ids:
        return
    with Session(engine) as db:
        live = [s.live_energy_wh or 0 for s in db.exec(select(UsageSession).where(UsageSession.id.in_(ids)))]
    assert all(0 < energy <= per_meter for energy in live), f"live energy out of range: {sorted(set(live))[:5]}"


def run(args) -> list[Figure]:
    figures = []
    for workload in args.workloads.split(","):
        running = workload == "running"
        with mosquitto() as broker:
            topics = Topics(f"bench-{uuid.uuid4().hex[:6]}/v1")
            with fresh_database(args.database_url) as url:
                fleet = make_fleet(url, args.meters, args.outlets, running)
                messages = args.meters * args.per_meter
                seconds = bare_subscriber(broker, topics, fleet, args.outlets, args.per_meter)
                figures.append(Figure(workload, "bare subscriber", messages, seconds))
                print(f"{workload}: bare subscriber {messages / seconds:,.0f} msg/s", flush=True)
            for count in (int(n) for n in args.gateways.split(",")):
                with fresh_database(args.database_url) as url:
                    fleet = make_fleet(url, args.meters, args.outlets, running)
                    topics = Topics(f"bench-{uuid.uuid4().hex[:6]}/v1")
                    seconds = gateways(broker, url, topics, fleet, args.outlets, args.per_meter, count)
                    figures.append(Figure(workload, f"{count} gateway{'s' if count > 1 else ''}", messages,
                                          seconds))
                    print(f"{workload}: {count} gateway(s) {messages / seconds:,.0f} msg/s", flush=True)
    return figures


def table(figures: list[Figure], database: str) -> str:
    lines = [f"drain on {database}: messages of {{outlets}} outlets each", "",
             "| workload | consumer | messages | msg/s | share of the bare subscriber |", "|---|---|---|---|---|"]
    for figure in figures:
        bare = next(f for f in figures if f.workload == figure.workload and f.consumer == "bare subscriber")
        lines.append(f"| {figure.workload} | {figure.consumer} | {figure.messages:,} | {figure.per_second:,.0f} | "
                     f"{figure.per_second / bare.per_second:.1%} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="", help="a PostgreSQL server (a database is made and dropped); "
                                                           "empty: a temporary SQLite file")
    parser.add_argument("--meters", type=int, default=200)
    parser.add_argument("--outlets", type=int, default=4)
    parser.add_argument("--per-meter", type=int, default=100)
    parser.add_argument("--gateways", default="1,2,4")
    parser.add_argument("--workloads", default="idle,running")
    args = parser.parse_args()
    figures = run(args)
    database = "PostgreSQL" if args.database_url else "SQLite"
    print(table(figures, database).replace("{outlets}", str(args.outlets)))


if __name__ == "__main__":
    main()
