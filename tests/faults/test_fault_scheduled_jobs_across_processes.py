"""Two gateways (each running the jobs, as they do by default) and one `scanpower scheduler`, side by side:
every job runs once per slot, whichever process wins it, and each process answers /readyz and /metrics."""
import time
import uuid
from datetime import timedelta

import httpx
from sqlalchemy import update
from sqlmodel import Session, col, select

from backend.core.clock import utcnow
from backend.jobs.models import JobLease, SchedulerInstance
from device_gateway.embedded_broker import free_port
from tests.faults.fault_harness import GatewayProcess, SchedulerProcess, wait_until

WINDOW_S = 12
INTERVAL_JOBS_S = {"expire_unacknowledged_starts": 5, "retry_unacknowledged_commands": 5,
                   "report_unacknowledged_stops": 5, "reprice_late_sessions": 5}
DAILY_OR_MONTHLY = ("notify_seasons_ending", "reconcile_points_daily", "close_previous_month")


def leases(engine) -> dict[str, JobLease]:
    with Session(engine) as db:
        return {row.name: row for row in db.exec(select(JobLease))}


def test_two_gateways_and_a_scheduler_run_each_job_once_per_slot(tmp_path, engine, database_url, mosquitto, topics):
    ports = [free_port() for _ in range(3)]
    processes = [GatewayProcess(_folder(tmp_path, f"gw{n}"), database_url, mosquitto.url, topics.prefix,
                                f"gw-{uuid.uuid4().hex[:6]}", metrics_port=str(ports[n])) for n in range(2)]
    processes.append(SchedulerProcess(_folder(tmp_path, "scheduler"), database_url, mosquitto.url, topics.prefix,
                                      "unused", metrics_port=str(ports[2])))
    try:
        for process in processes:
            process.start()
        for process in processes[:2]:
            process.wait_connected(timeout=90)
        processes[2].wait_running(timeout=90)
        wait_until(lambda: set(DAILY_OR_MONTHLY) <= set(leases(engine)), 20, "the jobs' leases")
        with Session(engine) as db:  # the nightly and monthly jobs, due now: all three processes want them
            db.execute(update(JobLease).where(col(JobLease.name).in_(DAILY_OR_MONTHLY)).values(due_at=utcnow()))
            db.commit()
        before = leases(engine)
        time.sleep(WINDOW_S)
        after = leases(engine)
        answers = [_ops(port) for port in ports]
        with Session(engine) as db:
            alive = db.exec(select(SchedulerInstance).where(
                SchedulerInstance.seen_at > utcnow() - timedelta(seconds=30))).all()
    finally:
        for process in processes:
            process.stop()
    logs = "".join(p.tail() for p in processes)

    for name in DAILY_OR_MONTHLY:
        assert after[name].runs == 1 and after[name].failures == 0, (name, logs)
    for name, every in INTERVAL_JOBS_S.items():
        ran = after[name].runs - before[name].runs
        assert 1 <= ran <= WINDOW_S // every + 1, f"{name} ran {ran} times in {WINDOW_S} s, every {every} s"
        assert after[name].failures == 0
    assert len({row.last_holder for row in after.values()}) >= 1 and len(alive) == 3
    assert "lease of" not in logs and "Traceback" not in logs, logs
    for ready, metrics in answers:
        assert ready == {"database": True, "broker": True, "scheduler": True}
        assert "scanpower_job_runs_total" in metrics or "scanpower_job_seconds" in metrics
    assert "scanpower_mqtt_messages_received_total" in answers[0][1] or "scanpower_ingest_lag" in answers[0][1]
    assert "scanpower_meters" in answers[2][1]  # the scheduler also shows the fleet's gauges


def _folder(tmp_path, name):
    folder = tmp_path / name
    folder.mkdir()
    return folder


def _ops(port: int) -> tuple[dict, str]:
    base = f"http://127.0.0.1:{port}"
    assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{base}/readyz")
    assert ready.status_code == 200, ready.text
    return ready.json()["checks"], httpx.get(f"{base}/metrics").text
