"""Payment providers; the demo one succeeds at once and moves no real money."""
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

    def charge(self, user_id: int, amount: Decimal) -> Charge: ...


class DemoProvider:
    """Pretends the card was charged: for demos and tests with no payment service."""

    name = "demo"

    def charge(self, user_id: int, amount: Decimal) -> Charge:
        return Charge(external_id=f"demo_{uuid.uuid4().hex}", succeeded=True)
