"""The scheduled jobs: what runs when, each calling the same services as the API (docs/operations.md lists them).

Any number of processes may run them (`scanpower scheduler`, the gateways, `scanpower run`): a database
lease per job (backend/jobs) lets each slot run once, wherever it is won.
"""
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from backend.broker_accounts.configured import device_policy, live_accounts
from backend.broker_accounts.service import reconcile_backlog
from backend.core.clock import LOCAL_TZ, utcnow
from backend.core.config import Settings
from backend.jobs.runner import Job, JobRunner
from backend.jobs.schedule import daily, every, monthly
from backend.meters.daily_totals import roll_up_days_due
from backend.meters.orders import OrderSink
from backend.meters.partitions import ensure_partitions
from backend.meters.retention import retire_old_readings
from backend.meters.silence import mark_silent_meters
from backend.payments.configured import providers_from
from backend.payments.service import recover_pending
from backend.payments.statements import reconcile_day as reconcile_payment_day
from backend.points.closing import expire_points
from backend.points.notices import notify_seasons_ending
from backend.points.service import activate_points_with_meters_online
from backend.reconciliation.daily import reconcile_days_due
from backend.reconciliation.monthly import close_previous_month
from backend.sessions.settlement import (capture_settled_holds, refund_unused_prepayments, reprice_late_sessions,
                                         settle_unconfirmed_stops)
from backend.sessions.timeouts import (expire_unacknowledged_starts, report_unacknowledged_stops,
                                       retry_unacknowledged_commands, stop_sessions_past_max_duration,
                                       stop_sessions_with_expiring_holds)
from backend.users.service import SignInLimits, forget_stale_sign_in_records
from billing.payments.providers import Providers


def build_jobs(settings: Settings) -> list[Job]:
    """Every job with its schedule; payment jobs only where a configured provider can do what they need."""
    timeout = settings.command_timeout_seconds
    settle_after = timedelta(minutes=settings.unconfirmed_stop_settle_minutes)
    limits = SignInLimits.of(settings)
    return [
        # Validity is by the local day: looked at every minute, so sessions stop within a minute of its end.
        Job("expire_points", every(minutes=1), lambda db, now: expire_points(db, _today(now), timeout)),
        Job("activate_points", every(minutes=5), lambda db, now: activate_points_with_meters_online(db, _today(now))),
        Job("expire_unacknowledged_starts", every(seconds=5),
            lambda db, now: expire_unacknowledged_starts(db, now, timeout)),
        Job("retry_unacknowledged_commands", every(seconds=5),
            lambda db, now: retry_unacknowledged_commands(db, now, timeout)),
        Job("report_unacknowledged_stops", every(seconds=5),
            lambda db, now: report_unacknowledged_stops(db, now, timeout)),
        Job("settle_unconfirmed_stops", every(minutes=1),
            lambda db, now: settle_unconfirmed_stops(db, now, settle_after)),
        Job("reprice_late_sessions", every(seconds=5), lambda db, now: reprice_late_sessions(db, now)),
        Job("forget_stale_sign_in_records", every(minutes=10),
            lambda db, now: forget_stale_sign_in_records(db, now, limits)),
        Job("mark_silent_meters", every(minutes=1),
            lambda db, now: mark_silent_meters(db, now, settings.meter_silent_after_seconds)),
        Job("stop_sessions_past_max_duration", every(minutes=1),
            lambda db, now: stop_sessions_past_max_duration(db, now, settings.session_max_hours, timeout)),
        Job("notify_seasons_ending", daily(hour=8),
            lambda db, now: notify_seasons_ending(db, now, settings.season_notice_days)),
        # After midnight, once the day's last readings of meters that were briefly away have come in.
        Job("reconcile_points_daily", daily(hour=1, minute=30), reconcile_days_due),
        # On the 2nd: a meter offline over the month's end has a day to upload before the month is billed.
        Job("close_previous_month", monthly(day=2, hour=6), close_previous_month),
        # Due at once when a scheduler starts, so this month's partition and the next ones exist before readings.
        Job("ensure_reading_partitions", every(minutes=60),
            lambda db, now: ensure_partitions(db, now, settings.reading_partitions_ahead)),
        Job("roll_up_reading_days", every(minutes=10), roll_up_days_due),
        Job("retire_old_readings", daily(hour=3, minute=30),
            lambda db, now: retire_old_readings(db, now, settings.reading_retention_months).months),
        *_payment_jobs(providers_from(settings), settings, timeout),
        *_broker_account_jobs(settings),
    ]


def _payment_jobs(providers: Providers, settings: Settings, timeout: int) -> list[Job]:
    jobs = []
    if any(p.capabilities.hold for p in providers):
        jobs += [Job("capture_settled_holds", every(seconds=10), lambda db, now: capture_settled_holds(db, providers)),
                 Job("stop_sessions_with_expiring_holds", every(minutes=10),
                     lambda db, now: stop_sessions_with_expiring_holds(db, now, timeout))]
    if any(not p.capabilities.instant for p in providers):
        jobs += [Job("refund_unused_prepayments", every(seconds=10),
                     lambda db, now: refund_unused_prepayments(db, providers)),
                 Job("recover_pending_payments", every(seconds=30),
                     lambda db, now: recover_pending(db, providers, settings, now))]
    if any(p.capabilities.statement for p in providers):
        # WeChat Pay's and Alipay's statements of a day are ready from about 10:00 the next morning.
        jobs.append(Job("reconcile_payment_statements", daily(hour=10, minute=30),
                        lambda db, now: [reconcile_payment_day(db, p, _today(now) - timedelta(days=1))
                                         for p in providers if p.capabilities.statement]))
    return jobs


def _broker_account_jobs(settings: Settings) -> list[Job]:
    """With live accounts: every change the immediate attempt missed (a broker away, a process gone) is applied."""
    broker = live_accounts(settings)
    if broker is None:
        return []
    policy = device_policy(settings)
    return [Job("reconcile_broker_accounts", every(seconds=10),
                lambda db, now: reconcile_backlog(db, broker, policy))]


def build_scheduler(settings: Settings, engine: Engine, sink: OrderSink,
                    clock: Callable[[], datetime] = utcnow) -> JobRunner:
    return JobRunner(engine, sink, build_jobs(settings), clock)


def _today(now: datetime):
    return now.astimezone(LOCAL_TZ).date()
