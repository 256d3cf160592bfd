"""Per-outlet daily totals of readings, rolled up set-based from the raw rows of days that are complete.

A day is rolled up once it is over (the job `roll_up_reading_days`), and again whenever a reading of it arrives
late (the ingest marks the day due in the same transaction as the reading). Reconciliation uses a day's totals
only while the day is marked done, so a late reading is never missed: until the day is rolled up again,
reconciliation reads it raw. docs/reconciliation.md explains which days stand in for their raw rows.

The roll-up is PostgreSQL SQL (window functions over one day of one partition); on SQLite (the embedded demo)
nothing is rolled up and reconciliation reads raw rows, as it always did.
"""
import logging
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlmodel import Session, col, select

from backend.core.clock import LOCAL_TZ, utcnow
from backend.meters.models import ReadingDay, ReadingDayDue
from backend.meters.register_rules import DEFAULT_TOLERANCE, NOMINAL_VOLTAGE_V

log = logging.getLogger(__name__)

CATCH_UP_DAYS = 40  # complete days the job makes sure of; a reading older than 31 days is refused anyway
DAYS_PER_RUN = 45

# A step is clean when the boot stays, the register does not fall, the rise fits the outlet's physical limit
# without the +1 Wh allowance (so the sum of clean steps fits the limit of the whole run, however it is cut),
# and a rising step stays within one local hour (so its energy prices in that hour, as the raw step would).
_ROLL_UP = f"""
WITH r AS (
    SELECT r.meter_id, r.channel, r.device_time, r.energy_wh, r.boot_id,
           lag(r.device_time) OVER w AS prev_time, lag(r.energy_wh) OVER w AS prev_wh,
           lag(r.boot_id) OVER w AS prev_boot, row_number() OVER w AS n
    FROM reading r
    WHERE r.device_time >= :start AND r.device_time < :end
    WINDOW w AS (PARTITION BY r.meter_id, r.channel ORDER BY r.device_time, r.energy_wh, r.id)
), s AS (
    SELECT r.*, r.energy_wh - r.prev_wh AS wh,
           r.prev_time IS NULL OR (
               r.boot_id = r.prev_boot AND r.energy_wh >= r.prev_wh
               AND r.energy_wh - r.prev_wh <= floor(o.rated_current_a * {NOMINAL_VOLTAGE_V} * {DEFAULT_TOLERANCE}
                                                    * extract(epoch FROM r.device_time - r.prev_time) / 3600)
               AND (r.energy_wh = r.prev_wh
                    OR r.device_time <= date_trunc('hour', r.prev_time, '{LOCAL_TZ.key}') + interval '1 hour')
           ) AS ok
    FROM r JOIN outlet o ON o.meter_id = r.meter_id AND o.channel = r.channel
), h AS (
    SELECT meter_id, channel,
           json_agg(json_build_array(since, until, wh) ORDER BY since) AS hours
    FROM (SELECT meter_id, channel, min(prev_time) AS since, max(device_time) AS until, sum(wh) AS wh
          FROM s WHERE wh > 0
          GROUP BY meter_id, channel, date_trunc('hour', prev_time, '{LOCAL_TZ.key}')) AS per_hour
    GROUP BY meter_id, channel
)
INSERT INTO reading_day (meter_id, channel, day, readings, first_at, first_wh, first_boot, last_at, last_wh,
                         last_boot, energy_wh, clean, hours)
SELECT s.meter_id, s.channel, :day, count(*), min(s.device_time),
       (array_agg(s.energy_wh ORDER BY s.n))[1], (array_agg(s.boot_id ORDER BY s.n))[1],
       max(s.device_time), (array_agg(s.energy_wh ORDER BY s.n DESC))[1],
       (array_agg(s.boot_id ORDER BY s.n DESC))[1],
       coalesce(sum(s.wh) FILTER (WHERE s.wh > 0), 0), bool_and(s.ok), coalesce(max(h.hours::text), '[]')::json
FROM s LEFT JOIN h ON h.meter_id = s.meter_id AND h.channel = s.channel
GROUP BY s.meter_id, s.channel
"""


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """[local midnight, next local midnight) of a local day."""
    start = datetime.combine(day, time(), LOCAL_TZ)
    return start, datetime.combine(day + timedelta(days=1), time(), LOCAL_TZ)


def rolls_up(db: Session) -> bool:
    return db.get_bind().dialect.name == "postgresql"


def mark_days_due(db: Session, days: Iterable[date]) -> None:
    """Days whose totals a new reading made stale: reconciliation reads them raw until they are rolled up again."""
    if not rolls_up(db):
        return
    rows = [{"day": day, "done": False, "changed_at": utcnow()} for day in sorted(set(days))]
    statement = pg_insert(ReadingDayDue).values(rows)
    db.execute(statement.on_conflict_do_update(
        index_elements=["day"], set_={"done": False, "changed_at": statement.excluded.changed_at},
        where=col(ReadingDayDue.done).is_(True)))


def roll_up_day(db: Session, day: date) -> int:
    """Replace the day's totals with those of its raw rows now; return the outlets rolled up."""
    start, end = day_bounds(day)
    db.execute(text("DELETE FROM reading_day WHERE day = :day"), {"day": day})
    return db.execute(text(_ROLL_UP), {"day": day, "start": start, "end": end}).rowcount


def roll_up_days_due(db: Session, now: datetime) -> list[date]:
    """The scheduled run: every complete day of the last few weeks once, and every day a late reading touched."""
    if not rolls_up(db):
        return []
    today = now.astimezone(LOCAL_TZ).date()
    complete = [{"day": today - timedelta(days=n), "done": False, "changed_at": utcnow()}
                for n in range(1, CATCH_UP_DAYS + 1)]
    db.execute(pg_insert(ReadingDayDue).values(complete).on_conflict_do_nothing(index_elements=["day"]))
    # Claimed and rolled up in one transaction: a reading that lands meanwhile marks the day due again.
    due = list(db.execute(text(
        "UPDATE reading_day_due SET done = true, changed_at = :now WHERE day IN (SELECT day FROM reading_day_due "
        "WHERE NOT done AND day < :today ORDER BY day LIMIT :n FOR UPDATE SKIP LOCKED) RETURNING day"),
        {"now": utcnow(), "today": today, "n": DAYS_PER_RUN}).scalars())
    for day in sorted(due):
        outlets = roll_up_day(db, day)
        log.info("readings of %s rolled up: %d outlets", day, outlets)
    return sorted(due)


def quiet_candidates(db: Session, meter_id: int, channel: int, first: date, last: date) -> dict[date, ReadingDay]:
    """The outlet's clean, up-to-date totals of the days in [first, last]."""
    query = (select(ReadingDay).join(ReadingDayDue, col(ReadingDayDue.day) == ReadingDay.day)
             .where(ReadingDay.meter_id == meter_id, ReadingDay.channel == channel, ReadingDay.day >= first,
                    ReadingDay.day <= last, col(ReadingDay.clean).is_(True), col(ReadingDayDue.done).is_(True)))
    return {row.day: row for row in db.exec(query)}

