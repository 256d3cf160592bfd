"""A database lease per job: whoever moves the row first runs the slot; nobody else can until it is done.

A claim is one UPDATE … WHERE due_at <= now AND the lease is free. PostgreSQL lets one of two concurrent
claims through and re-checks the other's WHERE on the row it committed (so it matches nothing); SQLite
serialises them behind its write lock. The run ends in the job's own transaction, which moves the slot on
only if the lease is still ours: a run that outlived its lease is rolled back instead of counted twice.
"""
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlmodel import Session, col, select

from backend.core.rows import insert_once
from backend.jobs.models import JobLease, SchedulerInstance


class LeaseLost(RuntimeError):
    """The job's lease ran out and another instance took it: this run's work must not count."""


@dataclass(frozen=True)
class Claim:
    name: str
    holder: str
    slot: datetime  # the due_at this run is for
    started_at: datetime


def ensure(db: Session, name: str, first_due: datetime, schedule: str = "") -> None:
    """The job's row, made once (by whichever instance comes first), saying its schedule as the code has it now."""
    insert_once(db, JobLease(name=name, due_at=first_due, schedule=schedule), "name")
    db.exec(update(JobLease).where(JobLease.name == name, JobLease.schedule != schedule).values(schedule=schedule))


def due(db: Session, now: datetime) -> list[str]:
    """Names of the jobs due now that nobody holds."""
    query = select(JobLease.name).where(JobLease.due_at <= now,
                                        or_(col(JobLease.until).is_(None), col(JobLease.until) < now))
    return list(db.exec(query))


def claim(db: Session, name: str, holder: str, now: datetime, lease_for: timedelta) -> Claim | None:
    """Take the job for this slot, or None when it is not due or someone else holds it."""
    statement = (update(JobLease)
                 .where(col(JobLease.name) == name, col(JobLease.due_at) <= now,
                        or_(col(JobLease.until).is_(None), col(JobLease.until) < now))
                 .values(holder=holder, until=now + lease_for)
                 .returning(col(JobLease.due_at)))
    slot = db.execute(statement).scalar_one_or_none()
    return None if slot is None else Claim(name, holder, slot, now)


def finish(db: Session, claim: Claim, next_due: datetime, now: datetime, touched: int) -> None:
    """Record a successful run and move the job to its next slot; LeaseLost if the lease is no longer ours."""
    _release(db, claim, next_due, now, last_outcome="ok", last_error=None, last_touched=touched,
             runs=JobLease.runs + 1)


def fail(db: Session, claim: Claim, next_due: datetime, now: datetime, error: str) -> None:
    """Record a failed run; the job tries again at its next slot, not at once (no tight loop on a bad job)."""
    _release(db, claim, next_due, now, last_outcome="failed", last_error=error[:255], last_touched=0,
             failures=JobLease.failures + 1)


def _release(db: Session, claim: Claim, next_due: datetime, now: datetime, **values) -> None:
    # Only the holder: a lease that ran out but that nobody took is still ours to finish.
    statement = (update(JobLease).where(col(JobLease.name) == claim.name, col(JobLease.holder) == claim.holder)
                 .values(holder=None, until=None, due_at=next_due, last_slot=claim.slot,
                         last_started_at=claim.started_at, last_finished_at=now, last_holder=claim.holder, **values))
    if db.execute(statement).rowcount != 1:
        raise LeaseLost(f"job {claim.name}: the lease of {claim.holder} ended before the run did")


def leases(db: Session) -> list[JobLease]:
    return list(db.exec(select(JobLease).order_by(JobLease.name)))


def report_alive(db: Session, holder: str, started_at: datetime, now: datetime) -> None:
    """This instance's heartbeat, which /readyz and operators read."""
    insert_once(db, SchedulerInstance(holder=holder, started_at=started_at, seen_at=now), "holder")
    db.execute(update(SchedulerInstance).where(col(SchedulerInstance.holder) == holder).values(seen_at=now))


def instances_seen_since(db: Session, since: datetime) -> list[SchedulerInstance]:
    return list(db.exec(select(SchedulerInstance).where(SchedulerInstance.seen_at >= since)))
