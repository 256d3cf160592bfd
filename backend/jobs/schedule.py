"""When a job is due: APScheduler's triggers, in Asia/Shanghai, as slots that every instance computes alike."""
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from backend.core.clock import LOCAL_TZ

# Interval slots count from here, so every instance (and every restart) agrees where a slot begins.
EPOCH = datetime(2000, 1, 1, tzinfo=LOCAL_TZ)
TICK = timedelta(microseconds=1)


@dataclass(frozen=True)
class Schedule:
    """A trigger and whether a job that has never run is due at once (interval jobs) or at its first slot."""

    trigger: BaseTrigger
    describe: str
    run_at_once: bool

    def first_due(self, now: datetime) -> datetime:
        return now if self.run_at_once else self.next_due(now)

    def next_due(self, now: datetime) -> datetime:
        """The first slot strictly after `now`: slots missed while no instance ran are not made up one by one."""
        return self.trigger.get_next_fire_time(None, (now + TICK).astimezone(LOCAL_TZ)).astimezone(UTC)


def every(seconds: float = 0, minutes: float = 0) -> Schedule:
    length = timedelta(seconds=seconds, minutes=minutes)
    return Schedule(IntervalTrigger(seconds=length.total_seconds(), start_date=EPOCH, timezone=LOCAL_TZ),
                    f"every {length.total_seconds():g} s", run_at_once=True)


def daily(hour: int, minute: int = 0) -> Schedule:
    return Schedule(CronTrigger(hour=hour, minute=minute, timezone=LOCAL_TZ), f"daily at {hour:02d}:{minute:02d}",
                    run_at_once=False)


def monthly(day: int, hour: int, minute: int = 0) -> Schedule:
    return Schedule(CronTrigger(day=day, hour=hour, minute=minute, timezone=LOCAL_TZ),
                    f"monthly on day {day} at {hour:02d}:{minute:02d}", run_at_once=False)
