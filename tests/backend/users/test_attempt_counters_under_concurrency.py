"""Attempt counters hit from many threads at once (PostgreSQL in CI): no count is lost, no limit is exceeded."""
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlmodel import Session

from backend.core.clock import utcnow
from backend.users import throttle
from backend.users.models import AttemptCounter
from backend.users.throttle import Limit

THREADS = 8
WIDE_OPEN = Limit(attempts=10**6, window=timedelta(minutes=15), lockout=timedelta(minutes=15))


def _count_from_threads(engine, limit: Limit, per_thread: int) -> list[throttle.Verdict]:
    now = utcnow()

    def worker(_: int) -> list[throttle.Verdict]:
        return [throttle.count_attempt(engine, "client", "192.0.2.1", limit, now) for _ in range(per_thread)]

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        return [verdict for verdicts in pool.map(worker, range(THREADS)) for verdict in verdicts]


def _stored(engine) -> AttemptCounter:
    with Session(engine) as db:
        return db.get(AttemptCounter, ("client", "192.0.2.1"))


def test_no_attempt_is_lost_when_many_threads_count_at_once(engine):
    verdicts = _count_from_threads(engine, WIDE_OPEN, per_thread=50)
    # Each upsert saw the row as the one before it left it: every count from 1 to 400 was handed out once.
    assert sorted(v.attempts for v in verdicts) == list(range(1, THREADS * 50 + 1))
    assert _stored(engine).attempts == THREADS * 50


def test_many_threads_at_once_get_exactly_the_limit_through(engine):
    limit = Limit(attempts=7, window=timedelta(minutes=15), lockout=timedelta(minutes=15))
    verdicts = _count_from_threads(engine, limit, per_thread=20)
    assert sum(v.allowed for v in verdicts) == 7
    assert all(v.locked_until is not None for v in verdicts if not v.allowed)


def test_attempts_given_back_from_many_threads_all_come_off(engine):
    _count_from_threads(engine, WIDE_OPEN, per_thread=25)

    def give_back(_: int) -> None:
        for _ in range(25):
            throttle.give_back(engine, "client", "192.0.2.1", WIDE_OPEN)

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        list(pool.map(give_back, range(THREADS)))
    assert _stored(engine).attempts == 0
