"""The API's side of idempotent money requests: the Idempotency-Key header, and replaying the first answer."""
from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import Header
from pydantic import BaseModel
from sqlmodel import Session

from billing.idempotency import service as idempotency

M = TypeVar("M", bound=BaseModel)

IdempotencyKey = Annotated[str | None, Header(
    alias="Idempotency-Key", min_length=8, max_length=100, pattern=r"^[A-Za-z0-9_\-:.]+$",
    description="Any unique string (a UUID is best). A request repeated with the same key — after a "
                "timeout on a weak network, say — gets the first answer and moves no money again; the "
                "same key with a different request is refused with 409.")]


def once(db: Session, user_id: int, key: str | None, operation: str, asked: BaseModel, answer_model: type[M],
         act: Callable[[], M]) -> M:
    """Run `act` once per (user, key); a repeat returns the first answer."""
    if key is None:
        return act()
    stored = idempotency.claim(db, user_id, key, operation,
                               idempotency.fingerprint(operation, asked.model_dump_json()))
    if stored is not None:
        return answer_model.model_validate_json(stored)
    answer = act()
    idempotency.remember(db, user_id, key, answer.model_dump_json())
    return answer
