"""Run scheduled jobs in any number of processes: each slot of each job runs once, wherever a lease is won.

Every process that runs jobs looks once a tick at which are due, claims each (backend/jobs/lease.py),
and runs it in one unit of work that also records the run. Jobs are driven by a clock, so tests move
time on instead of sleeping.
"""
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sized
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session

from backend.core import log_context, metrics
from backend.core.clock import utcnow
from backend.core.db import unit_of_work
from backend.jobs import lease
from backend.jobs.schedule import Schedule
from backend.meters.orders import OrderSink

log = logging.getLogger(__name__)
TICK_SECONDS = 1.0
HEARTBEAT_SECONDS = 10.0
LEASE = timedelta(minutes=10)  # longer than any job should take; a crashed holder's slot is retried after it


@dataclass(frozen=True)
class Job:
    """A named piece of timed work: `work(db, now)` returns what it acted on (a collection or a count)."""

    name: str
    schedule: Schedule
    work: Callable[[Session, datetime], Sized | int]


@dataclass(frozen=True)
class Outcome:
    job: str
    slot: datetime
    ok: bool
    touched: int = 0


def holder_name() -> str:
    """Who holds a lease: host, process and a random part (a restarted process is a new holder)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class JobRunner:
    def __init__(self, engine: Engine, sink: OrderSink, jobs: list[Job], clock: Callable[[], datetime] = utcnow,
                 holder: str | None = None, tick_seconds: float = TICK_SECONDS):
        self.engine, self.sink, self.clock = engine, sink, clock
        self.jobs = {job.name: job for job in jobs}
        self.holder = holder or holder_name()
        self.tick_seconds = tick_seconds
        self.started_at = clock()
        self.last_tick: float | None = None  # time.monotonic() of the last completed look at the jobs
        self.running: str | None = None  # the job this runner is in the middle of
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._heartbeat_due = 0.0
        self._prepared = False
        self._failing = False

    def prepare(self) -> None:
        """Make each job's lease row (due at once, or at its first slot)."""
        now = self.clock()
        with unit_of_work(self.engine, self.sink) as db:
            for job in self.jobs.values():
                lease.ensure(db, job.name, job.schedule.first_due(now), job.schedule.describe)

    def run_due(self) -> list[Outcome]:
        """Run every job that is due now and that no one else holds; what ran, in order."""
        with Session(self.engine) as db:
            names = [n for n in lease.due(db, self.clock()) if n in self.jobs]
        return [outcome for name in sorted(names) if (outcome := self.run(self.jobs[name])) is not None]

    def run(self, job: Job) -> Outcome | None:
        """Claim the job's slot and run it; None when it was not due or someone else has it."""
        with Session(self.engine) as db:
            claim = lease.claim(db, job.name, self.holder, self.clock(), LEASE)
            db.commit()
        if claim is None:
            return None
        self.running = job.name
        try:
            with log_context.bound(job=job.name):
                return self._run_claimed(job, claim)
        finally:
            self.running = None

    def _run_claimed(self, job: Job, claim: lease.Claim) -> Outcome:
        started = time.perf_counter()
        try:
            with unit_of_work(self.engine, self.sink) as db:
                result = job.work(db, claim.started_at)
                touched = result if isinstance(result, int) else len(result)
                now = self.clock()
                lease.finish(db, claim, job.schedule.next_due(now), now, touched)
        except lease.LeaseLost as exc:
            log.warning("%s", exc, extra={"slot": claim.slot})
            metrics.job_runs.labels(job.name, "lease_lost").inc()
            return Outcome(job.name, claim.slot, ok=False)
        except Exception as exc:
            log.exception("scheduled job %s failed", job.name, extra={"slot": claim.slot})
            self._record_failure(job, claim, f"{type(exc).__name__}: {exc}")
            return Outcome(job.name, claim.slot, ok=False)
        finally:
            metrics.job_seconds.labels(job.name).observe(time.perf_counter() - started)
        metrics.job_runs.labels(job.name, "ok").inc()
        metrics.job_touched.labels(job.name).inc(touched)
        level = logging.INFO if touched else logging.DEBUG
        log.log(level, "scheduled job %s acted on %d", job.name, touched,
                extra={"job": job.name, "slot": claim.slot, "touched": touched,
                       "seconds": round(time.perf_counter() - started, 3)})
        return Outcome(job.name, claim.slot, ok=True, touched=touched)

    def _record_failure(self, job: Job, claim: lease.Claim, error: str) -> None:
        metrics.job_runs.labels(job.name, "failed").inc()
        try:
            with Session(self.engine) as db:
                now = self.clock()
                lease.fail(db, claim, job.schedule.next_due(now), now, error)
                db.commit()
        except Exception:
            # The lease then simply runs out and the slot is tried again.
            log.exception("could not record the failure of %s", job.name)

    # --- in a thread of its own ---

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def alive(self, within_s: float = 60) -> bool:
        """Whether the loop runs: it looked at the jobs within `within_s`, or is in the middle of one (a long one
        is bounded by its lease)."""
        if self._thread is None or not self._thread.is_alive():
            return False
        recent = self.last_tick is not None and time.monotonic() - self.last_tick <= within_s
        return self.running is not None or recent

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                if not self._prepared:
                    self.prepare()
                    self._prepared = True
                self._heartbeat()
                self.run_due()
                self.last_tick = time.monotonic()
                if self._failing:
                    log.info("the scheduler reaches its jobs again")
                self._failing = False
            except Exception as exc:
                # The database is away, most likely; the jobs wait for it, and the next tick tries again.
                if not self._failing:
                    log.warning("the scheduler cannot look at its jobs: %s", getattr(exc, "orig", exc))
                self._failing = True
            self._stopping.wait(self.tick_seconds)

    def _heartbeat(self) -> None:
        if time.monotonic() < self._heartbeat_due:
            return
        with Session(self.engine) as db:
            lease.report_alive(db, self.holder, self.started_at, self.clock())
            db.commit()
        self._heartbeat_due = time.monotonic() + HEARTBEAT_SECONDS
