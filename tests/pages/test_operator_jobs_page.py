"""The operator's jobs page: each scheduled job with what it does, how often, its last run and outcome, when it is
next due and its failures, in both languages, from the operator's navigation."""
import re

from backend.jobs.runner import Job, JobRunner
from backend.jobs.schedule import daily, every
from backend.meters.orders import RecordingSink
from tests.pages.test_translations import english_words


def _broken(db, now):
    raise RuntimeError("the payment service answered 502")


def _ran_jobs(world) -> None:
    jobs = [Job("expire_points", every(minutes=1), lambda db, now: 3),
            Job("recover_pending_payments", every(seconds=30), _broken),
            Job("notify_seasons_ending", daily(hour=8), lambda db, now: 0)]  # not due before 08:00 comes
    runner = JobRunner(world.engine, RecordingSink(), jobs, holder="scheduler-a")
    runner.prepare()
    runner.run_due()
    runner._heartbeat()


def _row(page: str, name: str) -> str:
    return re.search(rf"<tr[^>]*>(?:(?!</tr>).)*{name}.*?</tr>", page, re.S).group(0)


def test_the_operator_sees_each_job_its_schedule_last_run_outcome_and_next_time(operator, world):
    _ran_jobs(world)
    page = operator.get("/operator")
    assert '<a href="/operator/jobs">Jobs</a>' in page.text
    jobs = operator.get("/operator/jobs")
    assert jobs.status_code == 200 and "scheduler-a" in jobs.text
    done = _row(jobs.text, "expire_points")
    assert "Closes points whose validity has ended" in done and "every 1 min" in done and ">done<" in done
    assert "3 things handled" in done and re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", done)
    failed = _row(jobs.text, "recover_pending_payments")
    assert 'class="row-bad"' in failed and ">failed<" in failed and "the payment service answered 502" in failed
    assert "every 30 s" in failed and '<b class="bad">1</b>' in failed
    waiting = _row(jobs.text, "notify_seasons_ending")
    assert "daily at 08:00" in waiting and "not run yet" in waiting


def test_the_jobs_page_in_chinese_shows_no_english_but_the_error_and_the_names(operator, world):
    _ran_jobs(world)
    operator.headers["Accept-Language"] = "zh-CN"
    page = operator.get("/operator/jobs").text
    assert "定时任务" in page and "每 1 分钟" in page and "每天 08:00" in page and "处理了 3 项" in page
    assert not english_words(page, ("Grid operator",))


def test_without_a_scheduler_the_page_says_nothing_timed_runs(operator):
    page = operator.get("/operator/jobs").text
    assert "No scheduler process was seen in the last minute" in page and "scanpower scheduler" in page


def test_only_operators_see_the_jobs(vendor, applicant):
    assert vendor.get("/operator/jobs").status_code == 403
    assert applicant.get("/operator/jobs").status_code == 403
