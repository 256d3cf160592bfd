"""A job's slot runs once however many runners look at it; failures, lost leases and catching up, by a moved clock."""
import json
import logging
from datetime import UTC, datetime, timedelta

from prometheus_client import REGISTRY
from sqlmodel import Session, select

from backend.core.json_logs import JsonFormatter
from backend.jobs import lease
from backend.jobs.models import JobLease, SchedulerInstance
from backend.jobs.runner import LEASE, Job, JobRunner
from backend.jobs.schedule import daily, every
from backend.meters.orders import RecordingSink
from tests.clocks import MovableClock

# 10:00:02 in Shanghai: a minute's slot began two seconds ago.
START = datetime(2026, 11, 26, 2, 0, 2, tzinfo=UTC)


def clock_at(moment: datetime = START) -> MovableClock:
    clock = MovableClock()
    clock.now = moment
    return clock


def runners(engine, jobs, clock, count=2) -> list[JobRunner]:
    made = [JobRunner(engine, RecordingSink(), jobs, clock, holder=f"runner-{n}") for n in range(count)]
    for runner in made:
        runner.prepare()
    return made


def counting_job(name="count", schedule=None, calls=None):
    calls = [] if calls is None else calls
    return Job(name, schedule or every(minutes=1), lambda db, now: calls.append(now) or 1), calls


def row(engine, name) -> JobLease:
    with Session(engine) as db:
        return db.get(JobLease, name)


def test_an_interval_job_runs_once_per_slot_however_many_runners_look(engine):
    job, calls = counting_job()
    clock = clock_at()
    first, second = runners(engine, [job], clock)
    ran = [first.run_due(), second.run_due(), first.run_due()]
    assert [len(r) for r in ran] == [1, 0, 0] and len(calls) == 1
    clock.advance(seconds=30)  # 10:00:32: still the slot that ran
    assert second.run_due() == [] and first.run_due() == []
    clock.advance(seconds=30)  # 10:01:02: the next one
    assert len(second.run_due()) == 1 and first.run_due() == []
    stored = row(engine, "count")
    assert (stored.runs, stored.failures, stored.last_outcome, stored.last_holder) == (2, 0, "ok", "runner-1")
    assert stored.due_at == datetime(2026, 11, 26, 2, 2, tzinfo=UTC) and stored.holder is None


def test_a_daily_job_waits_for_its_slot_and_a_missed_one_runs_when_a_runner_comes_back(engine):
    job, calls = counting_job("nightly", daily(hour=1, minute=30))
    clock = clock_at()
    (runner,) = runners(engine, [job], clock, count=1)
    assert runner.run_due() == []  # a new daily job is due at its first slot, not at once
    assert row(engine, "nightly").due_at == datetime(2026, 11, 26, 17, 30, tzinfo=UTC)  # 01:30 next day
    clock.advance(days=3)  # nobody ran for three nights
    assert len(runner.run_due()) == 1 and runner.run_due() == []  # one catch-up run, not three
    assert row(engine, "nightly").due_at == datetime(2026, 11, 29, 17, 30, tzinfo=UTC)


def test_a_failing_job_is_counted_and_tried_again_at_its_next_slot_not_at_once(engine):
    def broken(db, now):
        raise ValueError("no such thing")
    clock = clock_at()
    (runner,) = runners(engine, [Job("broken", every(minutes=1), broken)], clock, count=1)
    failed_before = REGISTRY.get_sample_value("scanpower_job_runs_total", {"job": "broken", "outcome": "failed"}) or 0
    outcome = runner.run_due()
    assert [o.ok for o in outcome] == [False] and runner.run_due() == []
    stored = row(engine, "broken")
    assert (stored.runs, stored.failures, stored.last_outcome) == (0, 1, "failed")
    assert stored.last_error == "ValueError: no such thing" and stored.holder is None
    assert REGISTRY.get_sample_value("scanpower_job_runs_total", {"job": "broken", "outcome": "failed"}) \
        == failed_before + 1
    clock.advance(minutes=1)
    assert [o.ok for o in runner.run_due()] == [False] and row(engine, "broken").failures == 2


def marker_job(clock, other: list):
    """A job that writes a marker row; on its first run it stalls past its lease while `other[0]` takes over."""
    def work(db, now):
        if not other[1]:
            other[1].append("stalled")
            clock.advance(seconds=LEASE.total_seconds() + 1)
            assert other[0].run(job).ok  # the other runner, in its own transactions
            db.add(SchedulerInstance(holder="marker-first", started_at=now, seen_at=now))
        else:
            db.add(SchedulerInstance(holder="marker-second", started_at=now, seen_at=now))
        return 1
    job = Job("stalls", every(minutes=60), work)
    return job


def test_a_stalled_run_whose_slot_was_taken_over_is_rolled_back(engine):
    clock = clock_at()
    other: list = [None, []]
    job = marker_job(clock, other)
    first, second = runners(engine, [job], clock)
    other[0] = second
    (outcome,) = first.run_due()
    assert not outcome.ok  # its lease was lost: its work was rolled back
    with Session(engine) as db:
        markers = set(db.exec(select(SchedulerInstance.holder).where(SchedulerInstance.holder.startswith("marker"))))
    assert markers == {"marker-second"}
    stored = row(engine, "stalls")
    assert (stored.runs, stored.last_holder) == (1, "runner-1")


def test_each_run_is_counted_and_logged_as_one_json_line_naming_the_job(engine, caplog):
    job, _ = counting_job("logged")
    (runner,) = runners(engine, [job], clock_at(), count=1)
    before = REGISTRY.get_sample_value("scanpower_job_runs_total", {"job": "logged", "outcome": "ok"}) or 0
    with caplog.at_level(logging.INFO, logger="backend.jobs.runner"):
        runner.run_due()
    assert REGISTRY.get_sample_value("scanpower_job_runs_total", {"job": "logged", "outcome": "ok"}) == before + 1
    assert REGISTRY.get_sample_value("scanpower_job_touched_total", {"job": "logged"}) >= 1
    (record,) = [r for r in caplog.records if r.name == "backend.jobs.runner"]
    line = json.loads(JsonFormatter().format(record))
    assert line["job"] == "logged" and line["touched"] == 1 and line["level"] == "info"
    assert line["slot"].startswith("2026-11-26 02:00:02")


def test_the_loop_reports_itself_alive_and_in_the_database(engine):
    job, calls = counting_job("looped")
    runner = JobRunner(engine, RecordingSink(), [job], holder="looping", tick_seconds=0.05)
    assert not runner.alive()
    runner.start()
    try:
        deadline = datetime.now(UTC) + timedelta(seconds=10)
        while not (calls and runner.alive()) and datetime.now(UTC) < deadline:
            pass
        assert calls and runner.alive()
        with Session(engine) as db:
            assert [i.holder for i in lease.instances_seen_since(db, START)] == ["looping"]
    finally:
        runner.stop()
    assert not runner.alive()
