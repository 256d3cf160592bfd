"""Attempt counters kept in the database, so every API process sees the same count.

Each counter holds the attempts of one scope ("phone", "client", …) by one subject in a window.
Counting and deciding is one atomic upsert: however many requests race, no more than the limit
are let through per window. The attempt that reaches the limit is still allowed and locks the
subject out; a success can give its attempt back (or forget the counter), lifting that lock.
"""
import hashlib
import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, delete, literal, null, or_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlmodel import Session

from backend.users.models import AttemptCounter

TABLE = AttemptCounter.__table__
C = TABLE.c
SUBJECT_LENGTH = 64


@dataclass(frozen=True)
class Limit:
    attempts: int
    window: timedelta
    lockout: timedelta


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    attempts: int
    locked_until: datetime | None

    def retry_after(self, now: datetime) -> int:
        """Whole seconds until the lock-out ends (at least 1)."""
        return max(1, math.ceil((self.locked_until - now).total_seconds())) if self.locked_until else 1


def subject_key(value: str) -> str:
    """`value` as stored: short printable text as it is, anything else by its SHA-256."""
    if len(value) <= SUBJECT_LENGTH and value.isascii() and value.isprintable():
        return value
    return "sha256:" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:SUBJECT_LENGTH - 7]


def client_key(host: str | None) -> str:
    """The client's address; IPv6 by its /64, which one subscriber usually holds whole."""
    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:
        return subject_key(host or "unknown")
    if address.version == 6:
        if address.ipv4_mapped:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def count_attempt(engine: Engine, scope: str, subject: str, limit: Limit, now: datetime) -> Verdict:
    """Count one attempt and say whether it may go ahead (one upsert in its own transaction)."""
    lock_ends = literal(now + limit.lockout, C.locked_until.type)
    held = and_(C.locked_until.is_not(None), C.locked_until > now)
    # Not held: a lock that has ended, or a window that has passed, starts the count again.
    stale = or_(C.locked_until.is_not(None), C.window_started_at <= now - limit.window)
    insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
    statement = insert(TABLE).values(
        scope=scope, subject=subject, attempts=1, window_started_at=now,
        locked_until=now + limit.lockout if limit.attempts <= 1 else None,
    ).on_conflict_do_update(index_elements=[C.scope, C.subject], set_={
        # Refused attempts are counted too, always above the limit, so the answer is in the row alone.
        "attempts": case((held, case((C.attempts > limit.attempts, C.attempts), else_=limit.attempts) + 1),
                         (stale, 1), else_=C.attempts + 1),
        "window_started_at": case((held, C.window_started_at), (stale, now), else_=C.window_started_at),
        "locked_until": case((held, C.locked_until),
                             (stale, lock_ends if limit.attempts <= 1 else null()),
                             (C.attempts + 1 >= limit.attempts, lock_ends), else_=null()),
    }).returning(C.attempts, C.locked_until)
    with engine.begin() as connection:
        attempts, locked_until = connection.execute(statement).one()
    return Verdict(attempts <= limit.attempts, attempts, locked_until)


def give_back(engine: Engine, scope: str, subject: str, limit: Limit) -> None:
    """Un-count one attempt that succeeded, and lift the lock-out if the rest stay under the limit."""
    statement = update(TABLE).where(C.scope == scope, C.subject == subject, C.attempts > 0).values(
        attempts=C.attempts - 1,
        locked_until=case((C.attempts - 1 < limit.attempts, null()), else_=C.locked_until))
    with engine.begin() as connection:
        connection.execute(statement)


def forget(engine: Engine, scope: str, subject: str) -> None:
    """Drop the counter: its attempts no longer count."""
    with engine.begin() as connection:
        connection.execute(delete(TABLE).where(C.scope == scope, C.subject == subject))


def forget_stale(db: Session, now: datetime, longest_window: timedelta) -> int:
    """Drop counters whose window and lock-out are both over; the number dropped."""
    statement = delete(TABLE).where(C.window_started_at <= now - longest_window,
                                    or_(C.locked_until.is_(None), C.locked_until <= now))
    return db.execute(statement).rowcount
