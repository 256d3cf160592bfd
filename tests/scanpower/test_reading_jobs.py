"""The reading jobs on a clock the test moves: partitions made ahead, days rolled up, old months retired."""
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from backend.core.clock import LOCAL_TZ, as_utc
from backend.meters.models import Reading
from backend.meters.partitions import Month, attached_months, ensure_partitions
from backend.meters.reading_store import insert_readings
from backend.meters.retention import oldest_month_kept
from backend.reconciliation.monthly import close_month
from backend.sessions.models import SessionStatus
from backend.users.models import Role
from tests import factories
from tests.backend.readings.rows import is_postgres, row
from tests.scanpower.test_scheduled_jobs import Jobs, running_session


@pytest.fixture(autouse=True)
def _quick_password_hashes(monkeypatch):
    monkeypatch.setattr("backend.users.service.hash_password", lambda password: "not-a-usable-hash")


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LOCAL_TZ)


@pytest.fixture
def jobs(settings, engine) -> Jobs:
    return Jobs(settings.model_copy(update={"reading_retention_months": 3, "reading_partitions_ahead": 2}), engine)


def test_the_retention_keeps_this_month_and_the_ones_before_it():
    assert oldest_month_kept(local(2027, 5, 10), 3) == Month(2027, 3)
    assert oldest_month_kept(local(2027, 1, 1, 1), 2) == Month(2026, 12)


def test_partitions_exist_ahead_as_soon_as_a_scheduler_starts(db, jobs):
    made = jobs.at(local(2030, 2, 27)).run("ensure_reading_partitions")
    if not is_postgres(db):
        assert made == 0
        return
    assert made == 3 and {Month(2030, 2), Month(2030, 3), Month(2030, 4)} <= set(attached_months(db))
    assert jobs.at(local(2030, 2, 27, 1)).run("ensure_reading_partitions") == 0  # already there


def test_old_months_are_dropped_only_once_nothing_needs_them(db, engine, jobs):
    point, meter = factories.active_point(db, outlets=1)
    vendor = factories.user(db, Role.vendor, Decimal("20.00"))
    open_since_february = running_session(db, point, vendor, local(2027, 2, 10).astimezone(UTC))
    point.valid_from, point.valid_until = local(2027, 1, 1).date(), local(2027, 2, 20).date()
    ensure_partitions(db, local(2027, 1, 5), ahead=4)
    insert_readings(db, [row(meter.id, n, local(2027, m, 10) + timedelta(minutes=n), 1000 + n)
                         for m in (1, 2, 3) for n in range(3)])
    db.commit()
    jobs.at(local(2027, 5, 10))  # a daily job is due from its first slot after the scheduler starts
    may = local(2027, 5, 10, 3, 30)

    older_and_unused = [m for m in attached_months(db) if m < Month(2027, 1)] if is_postgres(db) else []
    # Months before the point's season go at once; January stays: its statement is not closed yet.
    assert jobs.at(may).run("retire_old_readings") == len(older_and_unused)
    close_month(db, "2027-01", may)
    close_month(db, "2027-02", may)
    db.commit()
    assert jobs.at(may + timedelta(days=1)).run("retire_old_readings") == (1 if is_postgres(db) else 0)
    open_since_february.status = SessionStatus.completed  # settled at last: February can go
    db.add(open_since_february)
    db.commit()
    assert jobs.at(may + timedelta(days=2)).run("retire_old_readings") == (1 if is_postgres(db) else 0)
    assert jobs.at(may + timedelta(days=3)).run("retire_old_readings") == 0  # March is within the retention

    with Session(engine) as fresh:
        months = {as_utc(at).astimezone(LOCAL_TZ).month for at in fresh.exec(select(Reading.device_time))}
        assert months == ({3} if is_postgres(db) else {1, 2, 3})
        if is_postgres(db):
            assert Month(2027, 1) not in attached_months(fresh) and Month(2027, 3) in attached_months(fresh)


def test_yesterday_is_rolled_up_once_and_again_after_a_late_reading(db, jobs):
    _, meter = factories.active_point(db, outlets=1)
    yesterday = local(2027, 1, 14)
    insert_readings(db, [row(meter.id, n, yesterday + timedelta(minutes=15 * n), 100 + n, received_at=yesterday)
                         for n in range(4)])
    db.commit()
    rolled = jobs.at(local(2027, 1, 15, 0, 5)).run("roll_up_reading_days")
    if not is_postgres(db):
        assert rolled == 0
        return
    assert rolled == 40  # yesterday and the catch-up weeks before it, once
    assert jobs.at(local(2027, 1, 15, 0, 15)).run("roll_up_reading_days") == 0
    insert_readings(db, [row(meter.id, 9, yesterday + timedelta(hours=5), 200, received_at=local(2027, 1, 15, 1))])
    db.commit()
    assert jobs.at(local(2027, 1, 15, 1, 5)).run("roll_up_reading_days") == 1
    (readings,) = db.execute(text("SELECT readings FROM reading_day WHERE day = :d"), {"d": yesterday.date()}).one()
    assert readings == 5


def test_scanpower_migrate_makes_the_partitions_of_the_months_ahead(database_url, monkeypatch):
    from typer.testing import CliRunner

    from backend.core import config
    from scanpower.cli import app

    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("READING_PARTITIONS_AHEAD", "6")
    config.get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["migrate"])
    finally:
        config.get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    six_months_on = Month.of(datetime.now(UTC)).plus(6).table
    assert ("reading partitions made" in result.output and six_months_on in result.output) == database_url.startswith(
        "postgresql")
