"""The operator's jobs page: each scheduled job, how often it runs, how its last run went, and when it is due."""
from datetime import timedelta

from fastapi import Request

from backend.core.clock import utcnow
from backend.deps import Operator
from backend.jobs import lease
from backend.jobs.endpoints import SEEN_WITHIN_S
from backend.pages.errors import PageDb, page_router
from backend.pages.job_words import job_text, outcome_text, schedule_text
from backend.pages.rendering import render

router = page_router()


@router.get("/operator/jobs")
def jobs_page(request: Request, db: PageDb, operator: Operator):
    """The scheduled jobs as /api/v1/jobs has them, in plain words, and the scheduler processes seen lately."""
    now = utcnow()
    alive = lease.instances_seen_since(db, now - timedelta(seconds=SEEN_WITHIN_S))
    return render(request, "jobs.html", user=operator, jobs=lease.leases(db), instances=alive, now=now,
                  job_text=job_text, outcome_text=outcome_text, schedule_text=schedule_text)
