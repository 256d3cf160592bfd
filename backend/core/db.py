"""Engine, sessions and the unit of work that sends relay orders only after commit."""
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

from backend.meters.orders import OrderSink, RelayOrder, pending_orders


def make_engine(database_url: str, lock_timeout_s: float = 30) -> Engine:
    """An engine whose transactions wait at most `lock_timeout_s` for a lock, then fail (and roll back)."""
    if database_url.startswith("sqlite"):
        _ensure_sqlite_dir(database_url)
        engine = create_engine(database_url, connect_args={"check_same_thread": False, "timeout": lock_timeout_s})
        event.listen(engine, "connect", _sqlite_pragmas(int(lock_timeout_s * 1000)))
        return engine
    engine = create_engine(database_url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    event.listen(engine, "connect", _postgres_settings(int(lock_timeout_s * 1000)))
    return engine


def _ensure_sqlite_dir(database_url: str) -> None:
    path = database_url.split("///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(busy_timeout_ms: int):
    def apply(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
    return apply


def _postgres_settings(lock_timeout_ms: int):
    def apply(dbapi_connection, _record) -> None:
        # A request stuck behind a held lock fails after this long (503, retry) instead of hanging.
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET lock_timeout = {lock_timeout_ms}")
        dbapi_connection.commit()
    return apply


@contextmanager
def unit_of_work(engine: Engine, sink: OrderSink) -> Iterator[Session]:
    """Commit on success, roll back on error; relay orders leave only after the commit."""
    with Session(engine, expire_on_commit=False) as db:
        try:
            yield db
            orders = list(pending_orders(db))
            db.commit()
        except BaseException:
            db.rollback()
            raise
    send_all(sink, orders)


def send_all(sink: OrderSink, orders: list[RelayOrder]) -> None:
    for order in orders:
        sink.send(order)
