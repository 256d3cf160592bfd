"""Ingest CPU: the gateway's per-message path in one process, against parsing the same payloads.

The drain (`drain.py`) times the whole system, which on a shared machine is noisy. This one runs a
telemetry lane's path — paho's callback, the lane's batch (validate, store in PostgreSQL or SQLite,
apply to sessions and alarms, commit), the PUBACK in order — without a broker, and counts the CPU
time of this process per message (the database's own time is not in it), beside `json.loads` of the
same payloads in the same run. It checks its result: every message acknowledged, every reading stored once.

Run:  PYTHONPATH=. .venv/bin/python bench/ingest_cpu.py [--database-url postgresql+psycopg://…] \\
          [--meters 200] [--outlets 4] [--per-meter 30] [--batch 100] [--workloads idle,running]
"""
import argparse
import gc
import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt

from backend.core.db import make_engine
from backend.meters.ingest import LaneMemory
from bench.broker_and_database import count_readings, fresh_database, make_fleet, telemetry
from device_gateway.broker_url import BrokerAddress
from device_gateway.gateway import Gateway
from device_gateway.heap import settle_after_start_up
from device_gateway.protocol import Topics


def messages(fleet, topics: Topics, outlets: int, per_meter: int) -> list[mqtt.MQTTMessage]:
    """Every meter's backlog, interleaved as the broker would deliver it."""
    start, out = datetime.now(UTC) - timedelta(seconds=per_meter + 60), []
    for seq in range(1, per_meter + 1):
        for row in fleet:
            message = mqtt.MQTTMessage(len(out) + 1, topics.meter(row.serial, "telemetry").encode())
            message.payload, message.qos = telemetry(row, outlets, seq, start + timedelta(seconds=seq)), 1
            out.append(message)
    return out


def lane_path(gateway: Gateway, memory: LaneMemory, batch: list[mqtt.MQTTMessage]) -> None:
    """What paho's thread and one telemetry lane do for a batch (the gateway's own steps, run inline)."""
    for message in batch:
        gateway._on_message(None, None, message)
    lane = gateway._lanes[0]
    items = [lane.get_nowait() for _ in batch]
    gateway._observe_all(items)
    gateway._process(items, lambda: gateway._store_batch(items, memory))
    for item in items:
        gateway._acknowledge(item)


def cpu_per_message(work, chunks: list[list]) -> float:
    began = time.process_time()
    for chunk in chunks:
        work(chunk)
    return (time.process_time() - began) / sum(len(chunk) for chunk in chunks)


def run_workload(url: str, args, running: bool) -> tuple[float, float]:
    """(µs of CPU per message to parse, µs per message through the lane)."""
    fleet = make_fleet(url, args.meters, args.outlets, running)
    topics = Topics(f"cpu-{uuid.uuid4().hex[:6]}/v1")
    engine = make_engine(url)
    # One lane, never connected: its PUBACKs are counted instead of sent.
    gateway = Gateway(BrokerAddress.parse("mqtt://127.0.0.1:9"), engine, topics, "bench-cpu", telemetry_workers=1)
    acked: list = []
    gateway._acks._send = acked.append
    gateway._catch_up.release("broker", time.monotonic())  # no backlog marker: admit every message
    backlog = messages(fleet, topics, args.outlets, args.per_meter)
    chunks = [backlog[i:i + args.batch] for i in range(0, len(backlog), args.batch)]
    warm, measured = chunks[:2], chunks[2:]
    memory = LaneMemory()
    for chunk in warm:
        lane_path(gateway, memory, chunk)
    thresholds = gc.get_threshold()
    settle_after_start_up()  # as `scanpower gateway` does once it is set up
    try:
        parse = cpu_per_message(lambda chunk: [json.loads(m.payload) for m in chunk], measured)
        lane = cpu_per_message(lambda chunk: lane_path(gateway, memory, chunk), measured)
    finally:  # this process goes on (a test): the collector as it was
        gc.unfreeze()
        gc.set_threshold(*thresholds)
    assert len(acked) == len(backlog), f"{len(acked)} of {len(backlog)} messages acknowledged"
    assert count_readings(engine) == len(backlog) * args.outlets, "a reading was lost or stored twice"
    engine.dispose()
    return parse * 1e6, lane * 1e6


def run(args) -> list[str]:
    lines = ["| workload | parse only (µs/msg) | gateway lane (µs/msg) | lane ÷ parse |", "|---|---|---|---|"]
    for workload in args.workloads.split(","):
        with fresh_database(args.database_url) as url:
            parse, lane = run_workload(url, args, workload == "running")
        lines.append(f"| {workload} | {parse:.1f} | {lane:.1f} | {lane / parse:.1f} × |")
        print(lines[-1], flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="", help="a PostgreSQL server (a database is made and dropped); "
                                                           "empty: a temporary SQLite file")
    parser.add_argument("--meters", type=int, default=200)
    parser.add_argument("--outlets", type=int, default=4)
    parser.add_argument("--per-meter", type=int, default=30)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--workloads", default="idle,running")
    args = parser.parse_args()
    print("\n".join(run(args)))


if __name__ == "__main__":
    main()
