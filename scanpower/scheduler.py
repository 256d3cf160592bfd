"""Timed work (APScheduler): each job is one unit of work calling the same services as the API."""
import logging
from datetime import timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.engine import Engine

from backend.core.clock import local_today, utcnow
from backend.core.config import Settings
from backend.core.db import unit_of_work
from backend.meters.orders import OrderSink
from backend.points.closing import expire_points
from backend.points.service import activate_points_with_meters_online
from backend.payments.configured import providers_from
from backend.payments.service import recover_pending
from backend.payments.statements import reconcile_yesterday
from backend.sessions.settlement import (capture_settled_holds, refund_unused_prepayments, reprice_late_sessions,
                                         settle_unconfirmed_stops)
from backend.sessions.timeouts import (expire_unacknowledged_starts, report_unacknowledged_stops,
                                       retry_unacknowledged_commands, stop_sessions_with_expiring_holds)
from backend.users.service import SignInLimits, forget_stale_sign_in_records

log = logging.getLogger(__name__)


def build_scheduler(settings: Settings, engine: Engine, sink: OrderSink) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone="Asia/Shanghai")

    def job(name, work):
        def run():
            try:
                with unit_of_work(engine, sink) as db:
                    touched = work(db)
                if touched:
                    log.info("%s: %d", name, len(touched))
            except Exception:
                log.exception("scheduled job %s failed", name)
        return run

    timeout = settings.command_timeout_seconds
    # Every minute: a session on a point whose permit ended runs on at most a minute past midnight.
    scheduler.add_job(job("expire_points", lambda db: expire_points(db, local_today(), timeout)), "interval", minutes=1,
                      id="expire_points", next_run_time=utcnow())
    scheduler.add_job(job("activate_points", lambda db: activate_points_with_meters_online(db, local_today())),
                      "interval", minutes=5, id="activate_points", next_run_time=utcnow())
    scheduler.add_job(job("expire_unacknowledged_starts",
                          lambda db: expire_unacknowledged_starts(db, utcnow(), timeout)),
                      "interval", seconds=5, id="expire_starts")
    _add_payment_jobs(scheduler, job, settings, timeout)
    scheduler.add_job(job("retry_unacknowledged_commands",
                          lambda db: retry_unacknowledged_commands(db, utcnow(), timeout)),
                      "interval", seconds=5, id="retry_commands")
    scheduler.add_job(job("report_unacknowledged_stops", lambda db: report_unacknowledged_stops(db, utcnow(), timeout)),
                      "interval", seconds=5, id="report_stops")
    settle_after = timedelta(minutes=settings.unconfirmed_stop_settle_minutes)
    scheduler.add_job(job("settle_unconfirmed_stops", lambda db: settle_unconfirmed_stops(db, utcnow(), settle_after)),
                      "interval", minutes=1, id="settle_unconfirmed_stops")
    scheduler.add_job(job("reprice_late_sessions", lambda db: reprice_late_sessions(db, utcnow())),
                      "interval", seconds=5, id="reprice_late_sessions")
    limits = SignInLimits.of(settings)
    scheduler.add_job(job("forget_stale_sign_in_records",
                          lambda db: range(forget_stale_sign_in_records(db, utcnow(), limits))),
                      "interval", minutes=10, id="forget_sign_in_records")
    return scheduler


def _add_payment_jobs(scheduler: BackgroundScheduler, job, settings: Settings, timeout: int) -> None:
    """Each job only where a configured provider can do what it needs (its declared capabilities)."""
    providers = providers_from(settings)
    if any(p.capabilities.hold for p in providers):
        scheduler.add_job(job("capture_settled_holds", lambda db: capture_settled_holds(db, providers)),
                          "interval", seconds=10, id="capture_holds")
        scheduler.add_job(job("stop_sessions_with_expiring_holds",
                              lambda db: stop_sessions_with_expiring_holds(db, utcnow(), timeout)),
                          "interval", minutes=10, id="expiring_holds")
    if any(not p.capabilities.instant for p in providers):
        scheduler.add_job(job("refund_unused_prepayments", lambda db: refund_unused_prepayments(db, providers)),
                          "interval", seconds=10, id="refund_unused_prepayments")
        scheduler.add_job(job("recover_pending_payments",
                              lambda db: recover_pending(db, providers, settings, utcnow())),
                          "interval", seconds=30, id="recover_pending_payments")
    if any(p.capabilities.statement for p in providers):
        # WeChat Pay's and Alipay's statements of a day are ready from about 10:00 the next morning.
        scheduler.add_job(job("reconcile_statements", lambda db: reconcile_yesterday(db, providers)),
                          "cron", hour=10, minute=30, id="reconcile_statements")
