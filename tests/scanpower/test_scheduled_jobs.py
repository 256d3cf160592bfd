"""Each scheduled job of the catalogue, run by a runner whose clock the test moves: what it does, and only once."""
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlmodel import Session, col, select

from backend.alarms.models import Alarm
from backend.alarms.rules import AlarmKind
from backend.core.clock import LOCAL_TZ
from backend.jobs.models import JobLease
from backend.jobs.runner import JobRunner
from backend.meters.orders import RecordingSink
from backend.meters.service import set_presence
from backend.points import service as points
from backend.points.models import Meter, MeteringPoint, PointStatus
from backend.points.notices import PointNotice, current_notices
from backend.reconciliation.models import DailyReconciliation, MonthlyStatement
from backend.reconciliation.monthly import close_month
from backend.sessions import service as sessions
from backend.sessions.models import SessionStatus, StopReason, UsageSession
from backend.sessions.service import MeterOffline
from backend.users.models import Role
from billing.ledger.models import JournalEntry
from scanpower.scheduler import build_jobs
from tests import factories
from tests.backend.reconciliation.meter_feed import MeterFeed
from tests.backend.reconciliation.scene import local, run_quarters
from tests.clocks import MovableClock


@pytest.fixture(autouse=True)
def _quick_password_hashes(monkeypatch):
    monkeypatch.setattr("backend.users.service.hash_password", lambda password: "not-a-usable-hash")


class Jobs:
    """The catalogue's jobs on a clock the test sets; `run(name)` runs that job if it is due."""

    def __init__(self, settings, engine):
        self.engine, self.sink, self.clock = engine, RecordingSink(), MovableClock()
        self.runner = JobRunner(engine, self.sink, build_jobs(settings), self.clock, holder="test")
        self.prepared = False

    def at(self, moment: datetime) -> "Jobs":
        self.clock.now = moment.astimezone(UTC)
        if not self.prepared:  # the jobs are new at the first moment the test names
            self.runner.prepare()
            self.prepared = True
        return self

    def run(self, name: str) -> int | None:
        """What the job acted on, or None when it was not due."""
        outcome = self.runner.run(self.runner.jobs[name])
        assert outcome is None or outcome.ok, f"{name} failed"
        return None if outcome is None else outcome.touched

    def lease(self, name: str) -> JobLease:
        with Session(self.engine) as db:
            return db.get(JobLease, name)


@pytest.fixture
def jobs(settings, engine) -> Jobs:
    return Jobs(settings, engine)


def test_a_silent_meter_goes_offline_with_one_alarm_refuses_starts_and_the_alarm_closes_when_it_speaks(
        db, engine, jobs, settings):
    point, meter = factories.active_point(db)
    vendor = factories.user(db, Role.vendor, Decimal("20.00"))
    now = datetime(2026, 11, 26, 2, 0, 30, tzinfo=UTC)
    meter.last_seen = now - timedelta(seconds=settings.meter_silent_after_seconds + 5)
    db.commit()

    assert jobs.at(now).run("mark_silent_meters") == 1
    assert jobs.at(now + timedelta(minutes=1)).run("mark_silent_meters") == 0  # one alarm per silence
    db.expire_all()
    assert not db.get(Meter, meter.id).online
    (alarm,) = db.exec(select(Alarm).where(Alarm.kind == AlarmKind.meter_offline)).all()
    assert alarm.closed_at is None and alarm.opened_at.replace(tzinfo=UTC) == meter.last_seen
    with pytest.raises(MeterOffline):
        sessions.start_session(db, vendor, points.outlets_of_point(db, point.id)[0].qr_token, Decimal("1.00"), 30)
    db.rollback()

    set_presence(db, db.get(Meter, meter.id), True, "boot-2")
    db.commit()
    db.refresh(alarm)
    assert alarm.closed_at is not None and db.get(Meter, meter.id).online


def running_session(db, point, vendor, started_at: datetime) -> UsageSession:
    session = sessions.start_session(db, vendor, points.outlets_of_point(db, point.id)[0].qr_token,
                                     Decimal("1.00"), 30)
    session.status, session.started_at, session.start_register_wh = SessionStatus.active, started_at, 1000
    db.commit()
    return session


def test_a_session_past_its_maximum_duration_is_stopped_through_the_stop_path(db, jobs, settings):
    point, _ = factories.active_point(db)
    vendor = factories.user(db, Role.vendor, Decimal("20.00"))
    now = datetime(2026, 11, 26, 2, 0, 30, tzinfo=UTC)
    old = running_session(db, point, vendor, now - timedelta(hours=settings.session_max_hours, minutes=1))

    assert jobs.at(now).run("stop_sessions_past_max_duration") == 1
    db.refresh(old)
    assert (old.status, old.stop_reason) == (SessionStatus.stopping, StopReason.max_duration)
    assert [(o.action, o.cmd_id) for o in jobs.sink.sent] == [("open", old.stop_cmd_id)]
    assert jobs.at(now + timedelta(minutes=1)).run("stop_sessions_past_max_duration") == 0


def test_a_point_whose_validity_ended_stops_its_sessions_within_the_first_minute_of_the_next_day(db, jobs):
    point, _ = factories.active_point(db)
    vendor = factories.user(db, Role.vendor, Decimal("20.00"))
    running = running_session(db, point, vendor, datetime(2026, 11, 26, 12, tzinfo=UTC))
    point.valid_until = date(2026, 11, 26)
    db.commit()

    assert jobs.at(datetime(2026, 11, 26, 23, 59, 30, tzinfo=LOCAL_TZ)).run("expire_points") == 0
    assert jobs.at(datetime(2026, 11, 27, 0, 0, 5, tzinfo=LOCAL_TZ)).run("expire_points") == 1
    db.expire_all()
    assert db.get(MeteringPoint, point.id).status == PointStatus.expired
    assert db.get(UsageSession, running.id).stop_reason == StopReason.point_expired


@pytest.fixture
def november_point(db):
    """A point in service all November whose meter reports every quarter hour of 3 November."""
    applicant = factories.user(db, Role.applicant)
    point, meter = factories.active_point(db, applicant, outlets=2, price=Decimal("0.5000"),
                                          outlet_rated_current_a=Decimal("32"))
    point.valid_from, point.valid_until = date(2026, 10, 20), date(2027, 3, 31)
    feed = MeterFeed(db, meter, points.outlets_of_point(db, point.id))
    vendor = factories.user(db, Role.vendor, Decimal("500.00"))
    feed.report(local(2026, 11, 3, 8))
    run_quarters(feed, local(2026, 11, 3, 8), local(2026, 11, 3, 10), {1: 100})  # 800 Wh nobody's
    feed.start(vendor, 2, local(2026, 11, 3, 10))
    run_quarters(feed, local(2026, 11, 3, 10), local(2026, 11, 3, 12), {2: 250})  # 2000 Wh the vendor's
    feed.stop(2, local(2026, 11, 3, 12))
    db.commit()
    return point


def test_the_daily_reconciliation_keeps_each_points_day_and_catches_up_on_the_week_before(db, jobs,
                                                                                          november_point):
    jobs.at(local(2026, 11, 4, 1, 29))  # the job is new: due at its first slot, 01:30
    assert jobs.run("reconcile_points_daily") is None
    assert jobs.at(local(2026, 11, 4, 1, 30)).run("reconcile_points_daily") >= 1
    rows = {r.day: r for r in db.exec(select(DailyReconciliation).where(
        DailyReconciliation.point_id == november_point.id))}
    assert set(rows) == {date(2026, 10, 28) + timedelta(days=n) for n in range(7)}  # yesterday and 6 before
    day = rows[date(2026, 11, 3)]
    assert (day.register_delta_wh, day.session_energy_wh, day.unattributed_wh, day.gap_wh) == (2800, 2000, 800, 0)
    assert day.balanced and day.mismatched_sessions == 0
    assert jobs.run("reconcile_points_daily") is None  # done for this night
    assert jobs.lease("reconcile_points_daily").due_at == local(2026, 11, 5, 1, 30).astimezone(UTC)


def test_closing_a_month_keeps_each_statement_and_bills_unattributed_energy_once(db, jobs, november_point):
    jobs.at(local(2026, 12, 1))
    assert jobs.at(local(2026, 12, 2, 6, 0)).run("close_previous_month") >= 1
    (row,) = db.exec(select(MonthlyStatement).where(MonthlyStatement.point_id == november_point.id)).all()
    assert (row.month, row.unattributed_wh, row.session_energy_wh, row.gap_wh) == ("2026-11", 800, 2000, 0)
    assert row.unattributed_amount == Decimal("0.40") and row.bill_entry_id is not None and row.note == ""
    again = close_month(db, "2026-11", local(2026, 12, 3))  # a rerun (from the CLI, say) bills nothing new
    db.commit()
    assert [r.bill_entry_id for r in again if r.point_id == november_point.id] == [row.bill_entry_id]
    assert len(db.exec(select(JournalEntry).where(JournalEntry.kind == "unattributed")).all()) == 1


def test_applicants_are_told_once_before_their_season_ends(db, jobs, settings):
    point, _ = factories.active_point(db)
    today = date(2026, 11, 26)
    point.valid_from, point.valid_until = date(2026, 9, 1), today + timedelta(days=settings.season_notice_days - 1)
    later, _ = factories.active_point(db)
    later.valid_from, later.valid_until = date(2026, 9, 1), today + timedelta(days=settings.season_notice_days + 5)
    db.commit()

    jobs.at(datetime(2026, 11, 26, 7, tzinfo=LOCAL_TZ))
    assert jobs.at(datetime(2026, 11, 26, 8, 0, 1, tzinfo=LOCAL_TZ)).run("notify_seasons_ending") == 1
    assert jobs.at(datetime(2026, 11, 27, 8, 0, 1, tzinfo=LOCAL_TZ)).run("notify_seasons_ending") == 0
    notices = db.exec(select(PointNotice)).all()
    assert [(n.point_id, n.valid_until, n.applicant_id) for n in notices] == [
        (point.id, point.valid_until, point.applicant_id)]
    assert [n.point_id for n in current_notices(db, point.applicant_id, today)] == [point.id]
    point.valid_until += timedelta(days=30)  # extended: no longer ending, the old notice is no longer shown
    db.commit()
    assert current_notices(db, point.applicant_id, today) == []
    assert not db.exec(select(PointNotice).where(col(PointNotice.point_id) == later.id)).all()
