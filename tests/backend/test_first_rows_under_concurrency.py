"""Rows made the first time something happens are made once, however many transactions get there at once."""
import threading
from collections.abc import Callable

from sqlmodel import Session, func, select

from backend.alarms import service as alarms
from backend.alarms.models import Alarm, AlarmWatch
from backend.alarms.rules import AlarmKind
from backend.core.clock import utcnow
from backend.points.models import Meter
from backend.tariffs.models import Tariff
from backend.tariffs.service import ensure_default_tariffs
from tests import factories

THREADS = 8


def all_at_once(engine, work: Callable[[Session], object]) -> list[BaseException]:
    """Run `work` in THREADS transactions released together; return what they raised."""
    barrier, errors = threading.Barrier(THREADS), []

    def run() -> None:
        with Session(engine, expire_on_commit=False) as db:
            barrier.wait()
            try:
                work(db)
                db.commit()
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a transaction hung"
    return errors


def count(engine, query) -> int:
    with Session(engine) as db:
        return db.exec(query).one()


def test_the_shipped_tariffs_are_seeded_once_by_processes_starting_together(engine):
    assert all_at_once(engine, ensure_default_tariffs) == []
    assert count(engine, select(func.count()).select_from(Tariff)) == 2


def test_one_meters_loss_of_supply_reported_by_several_gateways_at_once_opens_one_alarm(engine, db):
    _, meter = factories.active_point(db)
    db.commit()
    at = utcnow()

    def report(session: Session) -> None:
        alarms.supply_lost(session, session.get(Meter, meter.id), at)

    assert all_at_once(engine, report) == []
    assert count(engine, select(func.count()).select_from(Alarm).where(Alarm.kind == AlarmKind.supply_lost)) == 1
    assert count(engine, select(func.count()).select_from(AlarmWatch)) == 1
