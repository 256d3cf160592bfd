"""Readings partitioned by local month of device time: stored once, never lost, partitions made ahead."""
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlmodel import Session

from backend.meters.partitions import Month, attached_months, ensure_partitions, months_to_have
from backend.meters.reading_store import insert_readings
from tests import factories
from tests.backend.readings.rows import is_postgres, row, where_stored

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_months_to_have_are_this_month_and_the_next_ones_by_local_time():
    # 16:30 UTC on 31 December is already 1 January in Shanghai.
    assert months_to_have(datetime(2026, 12, 31, 16, 30, tzinfo=ZoneInfo("UTC")), 2) == [
        Month(2027, 1), Month(2027, 2), Month(2027, 3)]
    assert Month(2026, 12).end == datetime(2027, 1, 1, tzinfo=SHANGHAI)
    assert Month(2026, 12).table == "reading_p2026_12"


def test_a_repeated_message_is_stored_once(db):
    _, meter = factories.active_point(db, outlets=2)
    at = datetime(2027, 1, 15, 12, tzinfo=SHANGHAI)
    ensure_partitions(db, at)
    message = [row(meter.id, 7, at, 1_000, channel=1), row(meter.id, 7, at, 2_000, channel=2)]
    assert len(insert_readings(db, message)) == 2
    assert insert_readings(db, message) == set()  # a redelivery after a lost PUBACK
    assert insert_readings(db, [row(meter.id, 7, at, 1_000, received_at=at + timedelta(minutes=5))]) == set()
    assert db.execute(text("SELECT count(*) FROM reading")).scalar_one() == 2


def test_a_message_repeated_across_a_month_boundary_is_stored_once(db):
    _, meter = factories.active_point(db, outlets=1)
    last_instant = datetime(2027, 1, 31, 23, 59, 59, 999000, tzinfo=SHANGHAI)
    first_instant = datetime(2027, 2, 1, tzinfo=SHANGHAI)
    ensure_partitions(db, last_instant, ahead=1)
    sent = [row(meter.id, 1, last_instant, 500), row(meter.id, 2, first_instant, 510)]
    assert len(insert_readings(db, sent)) == 2
    assert insert_readings(db, list(reversed(sent))) == set()
    stored = where_stored(db)
    assert len(stored) == 2
    if is_postgres(db):
        assert stored == {(1, 1): "reading_p2027_01", (2, 1): "reading_p2027_02"}


def test_a_reading_with_a_wild_time_is_kept_and_moves_when_its_month_is_made(db):
    _, meter = factories.active_point(db, outlets=1)
    far = datetime(2031, 6, 10, 8, tzinfo=SHANGHAI)
    assert len(insert_readings(db, [row(meter.id, 1, far, 42)])) == 1
    if is_postgres(db):
        assert where_stored(db) == {(1, 1): "reading_default"}
        assert Month(2031, 6) in ensure_partitions(db, far, ahead=0)
    assert where_stored(db) == {(1, 1): "reading_p2031_06" if is_postgres(db) else "reading"}
    assert insert_readings(db, [row(meter.id, 1, far, 42)]) == set()  # still its one row


def test_many_processes_making_the_same_partitions_make_each_once(engine):
    at = datetime(2032, 3, 3, tzinfo=SHANGHAI)

    def make(_):
        with Session(engine) as db:
            made = ensure_partitions(db, at, ahead=4)
            db.commit()
            return made

    with ThreadPoolExecutor(8) as pool:
        made = [month for months in pool.map(make, range(8)) for month in months]
    with Session(engine) as db:
        if is_postgres(db):
            assert sorted(made) == months_to_have(at, 4)
            assert set(months_to_have(at, 4)) <= set(attached_months(db))
        else:
            assert made == []
