"""The scheduled jobs in plain words: what each does, and how often, for the operator's jobs page."""
import re

from backend.pages.i18n import N_, gettext

# By job name (scanpower/scheduler.py); a job missing here is shown by its name alone.
JOB_TEXT = {
    "expire_points": N_("Closes points whose validity has ended"),
    "activate_points": N_("Puts approved points in service once their meter is online"),
    "expire_unacknowledged_starts": N_("Gives up starts the meter never confirmed"),
    "retry_unacknowledged_commands": N_("Sends relay commands again that the meter has not answered"),
    "report_unacknowledged_stops": N_("Reports stops the meter has not confirmed"),
    "settle_unconfirmed_stops": N_("Settles sessions whose stop the meter never confirmed"),
    "reprice_late_sessions": N_("Bills again sessions that late meter readings changed"),
    "forget_stale_sign_in_records": N_("Forgets old failed sign-ins"),
    "mark_silent_meters": N_("Marks meters offline that stopped reporting"),
    "stop_sessions_past_max_duration": N_("Stops sessions that ran longer than allowed"),
    "notify_seasons_ending": N_("Tells applicants that a point's season is ending"),
    "reconcile_points_daily": N_("Checks each point's meter against its sessions, per day"),
    "close_previous_month": N_("Makes last month's statements"),
    "capture_settled_holds": N_("Charges card and app holds for what ended sessions used"),
    "stop_sessions_with_expiring_holds": N_("Stops sessions whose hold is about to expire"),
    "refund_unused_prepayments": N_("Sends unused prepayments back the way they were paid"),
    "recover_pending_payments": N_("Asks the payment services about payments still pending"),
    "reconcile_payment_statements": N_("Fetches the payment services' statements and checks them"),
}
OUTCOME_TEXT = {"ok": N_("done"), "failed": N_("failed")}


def job_text(name: str) -> str:
    return gettext(JOB_TEXT[name]) if name in JOB_TEXT else ""


def outcome_text(outcome: str) -> str:
    return gettext(OUTCOME_TEXT[outcome]) if outcome in OUTCOME_TEXT else gettext(N_("not run yet"))


def schedule_text(schedule: str) -> str:
    """The scheduler's "every 5 s", "daily at 08:00", "monthly on day 2 at 06:00" in the page's language."""
    if found := re.fullmatch(r"every (\d+(?:\.\d+)?) s", schedule):
        return _every(float(found.group(1)))
    if found := re.fullmatch(r"daily at (\d\d:\d\d)", schedule):
        return gettext(N_("daily at %(time)s"), time=found.group(1))
    if found := re.fullmatch(r"monthly on day (\d+) at (\d\d:\d\d)", schedule):
        return gettext(N_("monthly on day %(day)s at %(time)s"), day=found.group(1), time=found.group(2))
    return schedule or "—"


def _every(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return gettext(N_("every %(num)s h"), num=f"{seconds / 3600:g}")
    if seconds >= 60 and seconds % 60 == 0:
        return gettext(N_("every %(num)s min"), num=f"{seconds / 60:g}")
    return gettext(N_("every %(num)s s"), num=f"{seconds:g}")
