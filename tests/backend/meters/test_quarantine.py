"""The quarantine on a real database: one row per source and kind, counts that add up, a bounded table."""
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from backend.meters.models import QuarantineEntry, RejectionKind
from backend.meters.quarantine import (OVERFLOW_SOURCE, RejectionCount, RejectionSample, latest_rejections,
                                       record_rejections)

T0 = datetime(2026, 11, 26, 13, 0, tzinfo=UTC)
BAD = RejectionKind.bad_message


def count(source: str, n: int, second: int = 0, kind: RejectionKind = BAD, payload: bytes = b"{}") -> RejectionCount:
    at = T0 + timedelta(seconds=second)
    first = RejectionSample.of(at, f"sp/m/{source}/telemetry", f"reason {second}", payload)
    last = RejectionSample.of(at + timedelta(milliseconds=500), f"sp/m/{source}/ack", f"last {second}", payload + b"!")
    return RejectionCount(source, kind, n, first, last)


def rows(db: Session) -> dict[tuple[str, str], QuarantineEntry]:
    db.expire_all()
    return {(r.source, r.kind): r for r in db.exec(select(QuarantineEntry))}


def test_counts_of_one_source_and_kind_add_up_in_one_row_keeping_its_first_sample(db):
    record_rejections(db, [count("SP1", 3, second=0), count("SP1", 2, second=0, kind=RejectionKind.rate_limited)])
    db.commit()
    record_rejections(db, [count("SP1", 4, second=10, payload=b"later")])
    db.commit()
    found = rows(db)
    assert len(found) == 2
    bad = found[("SP1", BAD)]
    assert (bad.count, bad.first_reason, bad.last_reason, bad.last_payload) == (7, "reason 0", "last 10", "later!")
    assert bad.first_at.replace(tzinfo=UTC) == T0 and bad.last_at.replace(tzinfo=UTC) > T0 + timedelta(seconds=10)
    assert found[("SP1", RejectionKind.rate_limited)].count == 2


def test_one_batch_may_hold_the_same_key_twice(db):
    record_rejections(db, [count("SP1", 1, second=1), count("SP1", 5, second=2)])
    db.commit()
    assert rows(db)[("SP1", BAD)].count == 6


def test_sources_beyond_the_bound_are_counted_under_the_overflow_row(db):
    record_rejections(db, [count(f"SP{n}", 1) for n in range(3)], max_rows=3)
    db.commit()
    record_rejections(db, [count("SP0", 1), count("SP7", 2), count("SP8", 5)], max_rows=3)
    db.commit()
    found = rows(db)
    assert found[("SP0", BAD)].count == 2  # known sources keep counting
    assert found[(OVERFLOW_SOURCE, BAD)].count == 7
    assert {source for source, _ in found} == {"SP0", "SP1", "SP2", OVERFLOW_SOURCE}


def test_nul_and_oversized_text_are_made_storable(db):
    record_rejections(db, [count("SP\x00" + "x" * 300, 1, payload=b"\x00" * 5000)])
    db.commit()
    [entry] = rows(db).values()
    assert "\x00" not in entry.source + entry.first_payload and len(entry.source) == 255


def test_the_latest_rejections_come_first(db):
    record_rejections(db, [count("SP1", 1, second=0), count("SP2", 1, second=30), count("SP3", 1, second=10)])
    db.commit()
    assert [r.source for r in latest_rejections(db, 2)] == ["SP2", "SP3"]
