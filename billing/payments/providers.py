"""Payment providers; the demo one succeeds at once and moves no real money."""
import hashlib
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol


@dataclass(frozen=True)
class Charge:
    external_id: str
    succeeded: bool
    reason: str = ""


class PaymentProvider(Protocol):
    name: str

    def charge(self, user_id: int, amount: Decimal, idempotency_key: str | None = None) -> Charge: ...


class DemoProvider:
    """Pretends the card was charged: for demos and tests with no payment service."""

    name = "demo"

    def charge(self, user_id: int, amount: Decimal, idempotency_key: str | None = None) -> Charge:
        # Like a real provider: the same key names the same payment.
        made = hashlib.sha256(idempotency_key.encode()).hexdigest()[:32] if idempotency_key else uuid.uuid4().hex
        return Charge(external_id=f"demo_{made}", succeeded=True)
