"""Monthly partitions of the reading table on PostgreSQL: made ahead of the readings, detached when retired.

Partitions run over local (Asia/Shanghai) calendar months of `device_time`, so a month's statement reads one
partition. docs/operations.md says why the key is the device time and what the DEFAULT partition is for.
SQLite (the embedded demo) keeps one plain table: every function here does nothing there.
"""
import logging
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import text
from sqlmodel import Session

from backend.core.clock import LOCAL_TZ

log = logging.getLogger(__name__)

PARENT = "reading"
DEFAULT_PARTITION = "reading_default"
MONTHS_AHEAD = 3  # this month and the next three always exist
# One transaction at a time changes the partitions (two processes starting at once would race otherwise).
_DDL_LOCK = 0x5EAD1265


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def of(cls, moment: datetime) -> "Month":
        here = moment.astimezone(LOCAL_TZ)
        return cls(here.year, here.month)

    def plus(self, months: int) -> "Month":
        index = self.year * 12 + self.month - 1 + months
        return Month(index // 12, index % 12 + 1)

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def start(self) -> datetime:
        """Local midnight of the month's first day."""
        return datetime(self.year, self.month, 1, tzinfo=LOCAL_TZ)

    @property
    def end(self) -> datetime:
        return self.plus(1).start

    @property
    def table(self) -> str:
        return f"reading_p{self.year:04d}_{self.month:02d}"


def months_to_have(now: datetime, ahead: int = MONTHS_AHEAD) -> list[Month]:
    """This month and the `ahead` months after it."""
    this = Month.of(now)
    return [this.plus(n) for n in range(ahead + 1)]


def month_of_table(name: str) -> Month | None:
    """The month a partition's name stands for; None for the DEFAULT partition or a foreign table."""
    if not name.startswith("reading_p") or len(name) != len("reading_p2026_11"):
        return None
    try:
        return Month(int(name[9:13]), int(name[14:16]))
    except ValueError:
        return None


def is_partitioned(db: Session) -> bool:
    if db.get_bind().dialect.name != "postgresql":
        return False
    kind = db.execute(text("SELECT relkind FROM pg_class WHERE oid = to_regclass(:t)"), {"t": PARENT}).scalar()
    return kind == "p"


def attached_months(db: Session) -> list[Month]:
    """The monthly partitions attached now, oldest first."""
    names = db.execute(text("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                            "WHERE i.inhparent = to_regclass(:t)"), {"t": PARENT}).scalars()
    return sorted(month for month in map(month_of_table, names) if month is not None)


def ensure_partitions(db: Session, now: datetime, ahead: int = MONTHS_AHEAD) -> list[Month]:
    """Create the partitions of this month and the next `ahead` that are missing; return those made."""
    if not is_partitioned(db):
        return []
    db.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _DDL_LOCK})
    have = set(attached_months(db))
    made = [month for month in months_to_have(now, ahead) if month not in have]
    for month in made:
        create_partition(db, month)
    if made:
        log.info("reading partitions created: %s", ", ".join(m.table for m in made))
    return made


def create_partition(db: Session, month: Month) -> None:
    """Make one month's partition, moving any of its readings the DEFAULT partition caught meanwhile.

    PostgreSQL refuses to attach a partition while the DEFAULT one holds rows of its range, so those rows
    move in the same transaction: a reading is never lost or seen twice.
    """
    bounds = {"start": month.start, "end": month.end}
    db.execute(text(f"CREATE TABLE {month.table} (LIKE {PARENT} INCLUDING DEFAULTS)"))
    db.execute(text(f"WITH moved AS (DELETE FROM {DEFAULT_PARTITION} WHERE device_time >= :start "
                    f"AND device_time < :end RETURNING *) INSERT INTO {month.table} SELECT * FROM moved"), bounds)
    db.execute(text(f"ALTER TABLE {PARENT} ATTACH PARTITION {month.table} FOR VALUES FROM "
                    f"('{month.start.isoformat()}') TO ('{month.end.isoformat()}')"))


def detach_partition(db: Session, month: Month, drop: bool) -> None:
    """Take one month's readings out of the table; dropped, or kept as a plain table for an archive."""
    db.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _DDL_LOCK})
    db.execute(text(f"ALTER TABLE {PARENT} DETACH PARTITION {month.table}"))
    if drop:
        db.execute(text(f"DROP TABLE {month.table}"))
