"""Claim an idempotency key for a money request, or find the answer an earlier request with it got.

The claim is a unique row written in the request's own transaction: a concurrent request with
the same key waits until the first commits (then replays its answer) or rolls back (then runs).
"""
import hashlib

from sqlmodel import Session, select

from backend.core.errors import Conflict
from backend.core.rows import insert_once
from billing.idempotency.models import IdempotentRequest


class IdempotencyKeyReused(Conflict):
    pass


def fingerprint(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def claim(db: Session, user_id: int, key: str, operation: str, asked: str) -> str | None:
    """None when this request may go ahead; the stored answer when it repeats an earlier one."""
    if insert_once(db, IdempotentRequest(user_id=user_id, key=key, operation=operation, fingerprint=asked),
                   "user_id", "key"):
        return None
    earlier = _request(db, user_id, key)
    if earlier.operation != operation or earlier.fingerprint != asked or earlier.response is None:
        raise IdempotencyKeyReused(f"the Idempotency-Key {key!r} was already used for a different request; "
                                   f"use a new key for a new request")
    return earlier.response


def remember(db: Session, user_id: int, key: str, response: str) -> None:
    """Store the answer of the request that claimed the key (committed with its effects)."""
    claimed = _request(db, user_id, key)
    claimed.response = response
    db.add(claimed)
    db.flush()


def _request(db: Session, user_id: int, key: str) -> IdempotentRequest:
    query = (select(IdempotentRequest).where(IdempotentRequest.user_id == user_id, IdempotentRequest.key == key)
             .execution_options(populate_existing=True))
    return db.exec(query).one()
