"""A thread per process that applies account changes as soon as their transaction commits."""
import logging
import threading
from contextlib import contextmanager

from sqlalchemy.engine import Engine
from sqlmodel import Session

from backend.broker_accounts import wake
from backend.broker_accounts.desired import Rules
from backend.broker_accounts.interface import BrokerAccounts
from backend.broker_accounts.service import reconcile_all

log = logging.getLogger(__name__)


class Provisioner:
    def __init__(self, engine: Engine, broker: BrokerAccounts, policy: Rules):
        self.engine, self.broker, self.policy = engine, broker, policy
        self._due = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._unlisten = None

    def start(self) -> "Provisioner":
        self._unlisten = wake.listen(self._due.set)
        self._thread = threading.Thread(target=self._loop, name="broker-accounts", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10) -> None:
        if self._unlisten:
            self._unlisten()
        self._stopping.set()
        self._due.set()
        if self._thread:
            self._thread.join(timeout)
        self.broker.close()

    def run_once(self) -> int:
        return reconcile_all(self._transaction, self.broker, self.policy)

    @contextmanager
    def _transaction(self):
        with Session(self.engine, expire_on_commit=False) as db:
            yield db
            db.commit()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self._due.wait()
            self._due.clear()
            if self._stopping.is_set():
                return
            try:
                self.run_once()
            except Exception:
                # The database is away, most likely: the scheduled job tries again.
                log.exception("broker accounts: the immediate attempt failed")
