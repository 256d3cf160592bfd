"""Operators read how the jobs ran and which points' days did not balance; nobody else may."""
from datetime import date

from backend.jobs.runner import Job, JobRunner
from backend.jobs.schedule import every
from backend.meters.orders import RecordingSink
from backend.reconciliation.models import DailyReconciliation
from backend.users.models import Role
from tests import factories


def test_operators_see_each_jobs_counts_and_the_instances_running_them(api_client, bearer, db, engine):
    operator, vendor = factories.user(db, Role.operator), factories.user(db, Role.vendor)
    db.commit()
    runner = JobRunner(engine, RecordingSink(), [Job("tidy", every(minutes=1), lambda db, now: 3)], holder="here")
    runner.prepare()
    runner.run_due()
    runner._heartbeat()
    answer = api_client.get("/api/v1/jobs", headers=bearer(operator)).json()
    (job,) = answer["data"]
    assert (job["name"], job["runs"], job["last_touched"], job["last_holder"]) == ("tidy", 1, 3, "here")
    assert job["schedule"] == "every 60 s"  # as the scheduler says it, for the operator's jobs page
    assert answer["instances"] == ["here"]
    assert api_client.get("/api/v1/jobs", headers=bearer(vendor)).status_code == 403


def test_operators_list_the_days_that_did_not_balance(api_client, bearer, db):
    operator = factories.user(db, Role.operator)
    point, _ = factories.active_point(db)
    db.add(DailyReconciliation(point_id=point.id, day=date(2026, 11, 3), balanced=False, mismatched_sessions=1,
                               note="session 7 was settled for 900 Wh but its readings add up to 1000 Wh"))
    db.add(DailyReconciliation(point_id=point.id, day=date(2026, 11, 4)))
    db.commit()
    answer = api_client.get("/api/v1/reconciliation/unbalanced?since=2026-11-01", headers=bearer(operator)).json()
    assert answer["count"] == 1 and answer["data"][0]["day"] == "2026-11-03"
    assert "900 Wh" in answer["data"][0]["note"]
