"""The quarantine: messages the gateway refused, counted per source and kind with two samples, bounded.

One row per (source, kind) whatever the volume: a meter that sends a million bad messages costs a
counter, not a million rows. The gateway counts in memory and writes here a batch at a time.
"""
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, func, select

from backend.meters.models import SAMPLE_CHARS, QuarantineEntry, RejectionKind

MAX_ROWS = 10_000
OVERFLOW_SOURCE = "*"  # counts sources that arrive once the table holds MAX_ROWS rows
TOPIC_CHARS = 255
REASON_CHARS = 1000


def printable(text: str) -> str:
    """PostgreSQL text cannot hold NUL; one bad payload must not stop the quarantine."""
    return text.replace("\x00", "\\0")


@dataclass(frozen=True)
class RejectionSample:
    at: datetime
    topic: str
    reason: str
    payload: str

    @classmethod
    def of(cls, at: datetime, topic: str, reason: str, payload: bytes) -> "RejectionSample":
        """A sample cut to what the quarantine keeps, with NUL escaped."""
        text = payload[:SAMPLE_CHARS].decode("utf-8", errors="replace")
        return cls(at, printable(topic)[:TOPIC_CHARS], printable(reason)[:REASON_CHARS],
                   printable(text)[:SAMPLE_CHARS])


@dataclass(frozen=True)
class RejectionCount:
    """`count` messages of one source and kind, the first and the last of them kept as samples."""

    source: str
    kind: RejectionKind
    count: int
    first: RejectionSample
    last: RejectionSample

    @property
    def key(self) -> tuple[str, RejectionKind]:
        return self.source, self.kind

    def then(self, later: "RejectionCount") -> "RejectionCount":
        """This count followed by a later one of the same key."""
        return replace(self, count=self.count + later.count, last=later.last)


def record_rejections(db: Session, counts: Sequence[RejectionCount], max_rows: int = MAX_ROWS) -> None:
    """Add the counts to the quarantine: one upsert, keeping each row's first sample and replacing its last."""
    counts = _within_bound(db, _merged(counts), max_rows)
    if not counts:
        return
    insert = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(QuarantineEntry).values([_row(c) for c in counts])
    fresh = statement.excluded
    statement = statement.on_conflict_do_update(
        index_elements=["source", "kind"],
        set_={"count": QuarantineEntry.count + fresh["count"], "last_at": fresh.last_at,
              "last_topic": fresh.last_topic, "last_reason": fresh.last_reason, "last_payload": fresh.last_payload})
    db.exec(statement)


def latest_rejections(db: Session, limit: int = 50) -> list[QuarantineEntry]:
    """The quarantine's rows, most recently rejected first."""
    query = select(QuarantineEntry).order_by(col(QuarantineEntry.last_at).desc(), col(QuarantineEntry.id).desc())
    return list(db.exec(query.limit(limit)))


def _merged(counts: Sequence[RejectionCount]) -> list[RejectionCount]:
    by_key: dict[tuple[str, RejectionKind], RejectionCount] = {}
    for count in counts:
        if (source := printable(count.source)[:TOPIC_CHARS]) != count.source:
            count = replace(count, source=source)
        earlier = by_key.get(count.key)
        by_key[count.key] = earlier.then(count) if earlier else count
    return list(by_key.values())


def _within_bound(db: Session, counts: list[RejectionCount], max_rows: int) -> list[RejectionCount]:
    """Sources that would take the table past `max_rows` are counted under OVERFLOW_SOURCE instead."""
    sources = {c.source for c in counts}
    known = set(db.exec(select(QuarantineEntry.source, QuarantineEntry.kind)
                        .where(col(QuarantineEntry.source).in_(sources))).all())
    new = [c for c in counts if c.key not in known and c.source != OVERFLOW_SOURCE]
    room = max_rows - db.exec(select(func.count()).select_from(QuarantineEntry)).one()
    if len(new) <= room:
        return counts
    overflowing = {c.key for c in new[max(room, 0):]}
    kept = [c for c in counts if c.key not in overflowing]
    folded = [replace(c, source=OVERFLOW_SOURCE) for c in counts if c.key in overflowing]
    return _merged(kept + folded)


def _row(count: RejectionCount) -> dict:
    first, last = count.first, count.last
    return dict(source=count.source, kind=count.kind, count=count.count,
                first_at=first.at, first_topic=first.topic, first_reason=first.reason, first_payload=first.payload,
                last_at=last.at, last_topic=last.topic, last_reason=last.reason, last_payload=last.payload)
