"""Late readings racing the roll-up: a day marked done always has totals of every reading committed before."""
import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlmodel import Session

from backend.meters.daily_totals import roll_up_days_due
from backend.meters.models import ReadingDayDue
from backend.meters.reading_store import insert_readings
from tests import factories
from tests.backend.readings.rows import row

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = datetime(2027, 3, 9, tzinfo=SHANGHAI)
NOW = DAY + timedelta(days=1, hours=2)


def _state(engine) -> tuple[bool | None, int, int]:
    with Session(engine) as db:
        due = db.get(ReadingDayDue, DAY.date())
        totals = db.execute(text("SELECT coalesce(sum(readings), 0) FROM reading_day WHERE day = :d"),
                            {"d": DAY.date()}).scalar_one()
        raw = db.execute(text("SELECT count(*) FROM reading")).scalar_one()  # all of them are of DAY
        return (due.done if due else None), totals, raw


def test_late_readings_during_roll_ups_never_leave_a_day_marked_done_with_stale_totals(engine):
    with Session(engine) as db:
        _, meter = factories.active_point(db, outlets=2)
        db.commit()
        meter_id = meter.id
    failures: list[BaseException] = []
    writing = threading.Event()
    writing.set()

    def write_late_readings():
        try:
            for seq in range(60):
                with Session(engine) as db:
                    at = DAY + timedelta(minutes=15 * seq)
                    insert_readings(db, [row(meter_id, seq, at, 1000 + seq, channel=ch, received_at=NOW)
                                         for ch in (1, 2)])
                    db.commit()
        except BaseException as exc:  # noqa: BLE001  (reported below)
            failures.append(exc)
        finally:
            writing.clear()

    def roll_up_while_writing():
        try:
            while writing.is_set():
                with Session(engine) as db:
                    roll_up_days_due(db, NOW)
                    db.commit()
        except BaseException as exc:  # noqa: BLE001
            failures.append(exc)

    threads = [threading.Thread(target=write_late_readings)] + [threading.Thread(target=roll_up_while_writing)
                                                                for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert failures == []

    done, totals, raw = _state(engine)
    assert raw == 120
    if engine.dialect.name != "postgresql":
        assert (done, totals) == (None, 0)  # SQLite keeps no totals
        return
    # A late reading that came after a roll-up left its day due; one that came before is in the totals.
    assert done is False or totals == raw
    with Session(engine) as db:
        roll_up_days_due(db, NOW)
        db.commit()
    assert _state(engine) == (True, 120, 120)

