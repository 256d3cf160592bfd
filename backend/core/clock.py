"""Time in one place: UTC for storage, Asia/Shanghai for people."""
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
# The years the platform reasons about; dates far outside them overflow time-zone arithmetic.
FIRST_YEAR, LAST_YEAR = 2000, 2100


def utcnow() -> datetime:
    return datetime.now(UTC)


def local_today() -> date:
    return utcnow().astimezone(LOCAL_TZ).date()


def as_utc(moment: datetime) -> datetime:
    """Naive datetimes read back from SQLite are UTC; make them aware."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def in_service_years(day: date) -> bool:
    """Whether a date (or datetime) falls in FIRST_YEAR–LAST_YEAR."""
    return FIRST_YEAR <= day.year <= LAST_YEAR


def local(moment: datetime | None) -> datetime | None:
    return None if moment is None else as_utc(moment).astimezone(LOCAL_TZ)
