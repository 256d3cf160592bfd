"""Time in one place: UTC for storage, Asia/Shanghai for people."""
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    return datetime.now(UTC)


def local_today() -> date:
    return utcnow().astimezone(LOCAL_TZ).date()


def as_utc(moment: datetime) -> datetime:
    """Naive datetimes read back from SQLite are UTC; make them aware."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def local(moment: datetime | None) -> datetime | None:
    return None if moment is None else as_utc(moment).astimezone(LOCAL_TZ)
