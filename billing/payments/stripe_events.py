"""The parts of a Stripe webhook event that we read, validated: a signed event may still lack them."""
from typing import Any, TypeVar

from pydantic import BaseModel, Field, ValidationError

from backend.core.errors import ScanPowerError
from backend.core.types import MAX_INTEGER

MAX_FEN = 10**12  # far above any charge; keeps amounts inside a BIGINT of fen
M = TypeVar("M", bound=BaseModel)


class UnreadableEvent(ScanPowerError):
    """A correctly signed event without the fields its type must carry."""

    status_code = 422


class EventData(BaseModel):
    object: dict[str, Any]


class Event(BaseModel):
    id: str = Field(min_length=1, max_length=255)
    type: str = Field(min_length=1, max_length=120)
    data: EventData


class Intent(BaseModel):
    """A PaymentIntent; `user_id` and `purpose` come from the metadata our flows set."""

    id: str = Field(min_length=1, max_length=120)
    amount: int = Field(ge=0, le=MAX_FEN)
    amount_received: int | None = Field(default=None, ge=0, le=MAX_FEN)
    metadata: dict[str, Any] | None = None
    cancellation_reason: str | None = None

    @property
    def user_id(self) -> int | None:
        """Our user, when one of our flows made the intent; None for intents made elsewhere on the account."""
        found = str((self.metadata or {}).get("user_id", ""))
        return int(found) if found.isdigit() and 1 <= int(found) <= MAX_INTEGER else None

    @property
    def purpose(self) -> str:
        return str((self.metadata or {}).get("purpose", "")) if self.user_id else ""


class IntentRef(BaseModel):
    id: str = Field(min_length=1, max_length=120)


class Charge(BaseModel):
    payment_intent: str | IntentRef | None = None

    @property
    def intent_id(self) -> str | None:
        return self.payment_intent.id if isinstance(self.payment_intent, IntentRef) else self.payment_intent


def read(model: type[M], data: Any, what: str) -> M:
    """`data` as `model`, or UnreadableEvent naming what is missing."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise UnreadableEvent(_explain(error, what)) from None


def read_event(payload: bytes) -> Event:
    try:
        return Event.model_validate_json(payload)
    except ValidationError as error:
        raise UnreadableEvent(_explain(error, "event")) from None


def _explain(error: ValidationError, what: str) -> str:
    problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or what}: {e['msg']}" for e in error.errors()[:5])
    return f"the {what} lacks what it must carry: {problems}"
