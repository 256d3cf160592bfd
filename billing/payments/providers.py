"""The providers this installation takes money through, by name; the demo one when none is configured."""
import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from backend.core.errors import Conflict
from billing.payments.interface import (BadSignature, Capabilities, Checkout, HoldRef, Notification, Order,
                                        OrderState, OrderStatus, PaidRef, PaymentProvider, RefundResult,
                                        StatementLine)


class PayWith(StrEnum):
    """What a vendor chooses to pay with."""

    card = "card"  # Stripe
    wechat = "wechat"  # WeChat Pay (微信支付)
    alipay = "alipay"  # Alipay (支付宝)


PROVIDER_OF = {PayWith.card: "stripe", PayWith.wechat: "wechat", PayWith.alipay: "alipay"}


class PaymentMethodUnavailable(Conflict):
    pass


@dataclass(frozen=True)
class Charge:
    external_id: str
    succeeded: bool
    reason: str = ""


class DemoProvider:
    """Pretends the money came in: for demos and tests with no payment service. It holds and refunds nothing."""

    name = "demo"
    capabilities = Capabilities(instant=True, hold=False, refund=False, statement=False)

    def charge(self, user_id: int, amount: Decimal, idempotency_key: str | None = None) -> Charge:
        # Like a real provider: the same key names the same payment.
        made = hashlib.sha256(idempotency_key.encode()).hexdigest()[:32] if idempotency_key else uuid.uuid4().hex
        return Charge(external_id=f"demo_{made}", succeeded=True)

    def pay(self, order: Order, idempotency_key: str) -> Checkout:
        charge = self.charge(order.user_id, Decimal(order.amount_fen) / 100, idempotency_key)
        return Checkout(charge.external_id, OrderState.paid, charge.external_id)

    def query(self, external_id: str, purpose: str) -> OrderStatus:
        return OrderStatus(OrderState.paid, external_id)

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> Notification:
        raise BadSignature("the demo provider sends no notifications")

    def hold(self, order: Order, idempotency_key: str) -> Checkout:
        raise PaymentMethodUnavailable("the demo provider holds nothing")

    def capture(self, hold: HoldRef, amount_fen: int) -> str | None:
        raise PaymentMethodUnavailable("the demo provider holds nothing")

    def release(self, hold: HoldRef, amount_fen: int, captured_fen: int) -> None:
        raise PaymentMethodUnavailable("the demo provider holds nothing")

    def refund(self, paid: PaidRef, sequence: int, amount_fen: int, reason: str) -> RefundResult:
        raise PaymentMethodUnavailable("the demo provider refunds nothing")

    def query_refund(self, paid: PaidRef, refund_id: str) -> RefundResult:
        raise PaymentMethodUnavailable("the demo provider refunds nothing")

    def close(self, external_id: str, purpose: str) -> None:
        pass

    def statement(self, day: date) -> list[StatementLine]:
        return []


class Providers:
    """The configured providers by name; the first is the default for requests that name none."""

    def __init__(self, *providers: PaymentProvider):
        if not providers:
            providers = (DemoProvider(),)
        self.by_name: dict[str, PaymentProvider] = {p.name: p for p in providers}
        self.default = providers[0]

    @classmethod
    def of(cls, given: "PaymentProvider | Providers | None") -> "Providers":
        if isinstance(given, Providers):
            return given
        return cls(given) if given is not None else cls()

    def __iter__(self):
        return iter(self.by_name.values())

    def named(self, name: str) -> PaymentProvider:
        """The provider recorded on a payment (its refunds and captures go back through it)."""
        if name not in self.by_name:
            raise PaymentMethodUnavailable(f"the {name} payment service is not configured here")
        return self.by_name[name]

    def chosen(self, pay_with: PayWith | None) -> PaymentProvider:
        """The provider a vendor chose; none chosen: the default."""
        if pay_with is None:
            return self.default
        name = PROVIDER_OF[pay_with]
        if name not in self.by_name:
            raise PaymentMethodUnavailable(f"{pay_with.value} payments are not set up here; choose "
                                           f"{' or '.join(self.choices()) or 'the wallet'}")
        return self.by_name[name]

    def choices(self) -> list[str]:
        return [w.value for w, name in PROVIDER_OF.items() if name in self.by_name]
