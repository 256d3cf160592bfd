"""An immediate attempt after commit: a transaction that changed an account wakes this process's provisioners.

Never inside the transaction: the broker hears of an approval only once it is committed, and a rolled-back
one wakes no one. The scheduled job catches whatever a wake-up missed (a process that died, a broker away).
"""
from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session

_KEY = "scanpower.broker_accounts_changed"
_listeners: list[Callable[[], None]] = []


def after_commit(db: Session) -> None:
    """Wake the provisioners once this session's transaction commits."""
    db.info[_KEY] = True


def listen(wake: Callable[[], None]) -> Callable[[], None]:
    """Call `wake` after every commit that changed an account; returns the undo."""
    _listeners.append(wake)
    return lambda: _listeners.remove(wake)


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    if session.info.pop(_KEY, False):
        for wake in list(_listeners):
            wake()


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    session.info.pop(_KEY, None)
