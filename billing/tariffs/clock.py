"""Local wall-clock time for tariffs: Asia/Shanghai, and "HH:MM" times of day."""
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
MINUTES_PER_DAY = 24 * 60


def parse_clock(text: object) -> int:
    """Minutes after midnight for "HH:MM"; "24:00" is the end of the day."""
    if not isinstance(text, str) or len(text) != 5 or text[2] != ":":
        raise ValueError(f"expected a time of day as HH:MM, got {text!r}")
    hours, minutes = text[:2], text[3:]
    if not (hours.isdigit() and minutes.isdigit()) or int(minutes) >= 60:
        raise ValueError(f"expected a time of day as HH:MM, got {text!r}")
    minute = int(hours) * 60 + int(minutes)
    if minute > MINUTES_PER_DAY:
        raise ValueError(f"{text!r} is after 24:00")
    return minute


def format_clock(minute: int) -> str:
    """ "HH:MM" for minutes after midnight."""
    return f"{minute // 60:02d}:{minute % 60:02d}"


def local_instant(day: date, minute: int) -> datetime:
    """The instant `minute` minutes into the local day `day` (1440 is the next midnight)."""
    day += timedelta(days=minute // MINUTES_PER_DAY)
    minute %= MINUTES_PER_DAY
    return datetime.combine(day, time(minute // 60, minute % 60), tzinfo=SHANGHAI)


def local_start(value: object) -> datetime:
    """An aware instant from a local date, a naive local datetime, or an aware datetime."""
    if isinstance(value, str):
        value = date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value)
    if isinstance(value, datetime):
        return value.replace(tzinfo=SHANGHAI) if value.tzinfo is None else value.astimezone(SHANGHAI)
    if isinstance(value, date):
        return local_instant(value, 0)
    raise ValueError(f"expected a date or a datetime, got {value!r}")
