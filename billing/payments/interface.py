"""The one interface every payment provider implements (Stripe, WeChat Pay, Alipay, demo), in integer fen.

A provider says what it can do in `capabilities`; the services pick the path from that, never
from the provider's type. Every id a provider hands back is a string; every amount is fen.
"""
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from backend.core.errors import ScanPowerError
from backend.core.types import FEN


class BadSignature(ScanPowerError):
    """A notification whose signature does not verify against the provider's key."""


class PaymentServiceUnavailable(ScanPowerError):
    """The payment service did not answer, or answered with an error other than a refusal."""

    status_code = 502


class PaymentDeclined(ScanPowerError):
    status_code = 402


def to_fen(amount: Decimal) -> int:
    if amount != amount.quantize(FEN):
        raise ValueError(f"money must be whole fen, got {amount}")
    return int(amount * 100)


def from_fen(fen: int) -> Decimal:
    return (Decimal(fen) / 100).quantize(FEN)


@dataclass(frozen=True)
class Capabilities:
    """What a provider can do; the session flow and the jobs choose their path from this."""

    instant: bool  # a payment or hold completes inside our request (a card on file, the demo); else in the app
    hold: bool  # reserve a maximum, capture the bill, release the rest (card hold, 微信支付分, 支付宝资金预授权)
    refund: bool  # refund to the original payment, partly and repeatedly, up to what was paid
    statement: bool  # a daily statement (对账单) to reconcile against
    minimum_fen: int = 1  # the smallest amount it will charge


@dataclass(frozen=True)
class Payer:
    """Who pays, as a provider needs it: WeChat JSAPI needs the payer's openid, WeChat H5 their address."""

    openid: str | None = None
    client_ip: str | None = None
    return_url: str | None = None


@dataclass(frozen=True)
class Order:
    out_trade_no: str  # ours, one per attempt
    user_id: int
    amount_fen: int
    description: str
    purpose: str  # "top_up", "session" or "hold"
    payer: Payer = field(default_factory=Payer)


class OrderState(StrEnum):
    pending = "pending"  # waiting for the payer to confirm in the app
    paid = "paid"
    held = "held"  # a hold the payer confirmed: nothing charged yet
    captured = "captured"  # a hold charged (partly); for 微信支付分, once WeChat has collected it
    closed = "closed"  # never paid, and now it cannot be
    failed = "failed"


@dataclass(frozen=True)
class Checkout:
    """An order or hold as the provider took it: its reference, its state, and what the phone needs to pay."""

    external_id: str  # how we name it in later calls: Stripe's PaymentIntent, else our out_trade_no
    state: OrderState
    transaction_id: str | None = None  # the provider's own id, once it has one
    params: dict[str, str] = field(default_factory=dict)  # prepay_id and the signed JSAPI call, a pay URL…
    reason: str = ""


@dataclass(frozen=True)
class OrderStatus:
    state: OrderState
    transaction_id: str | None = None
    amount_fen: int | None = None


@dataclass(frozen=True)
class HoldRef:
    external_id: str
    transaction_id: str | None  # Alipay's auth_no
    amount_fen: int


@dataclass(frozen=True)
class PaidRef:
    """A payment to refund: a top-up, a prepaid session or a captured hold."""

    external_id: str
    transaction_id: str | None
    total_fen: int  # what the payer paid in the first place (WeChat asks for it with each refund)


class RefundState(StrEnum):
    pending = "pending"  # accepted; the provider reports the outcome later (WeChat Pay)
    succeeded = "succeeded"
    failed = "failed"


@dataclass(frozen=True)
class RefundResult:
    refund_id: str  # Stripe's re_…; our out_refund_no at WeChat Pay and Alipay
    amount_fen: int
    state: RefundState
    transaction_id: str | None = None  # the provider's own refund id
    reason: str = ""


class NotificationKind(StrEnum):
    paid = "paid"
    held = "held"
    captured = "captured"
    closed = "closed"
    refund_succeeded = "refund_succeeded"
    refund_failed = "refund_failed"
    other = "other"


@dataclass(frozen=True)
class Notification:
    """A verified, decrypted notification, in our words."""

    id: str  # unique per notification at the provider: the store-once key
    type: str  # the provider's own name for it
    kind: NotificationKind
    external_id: str = ""  # our out_trade_no / out_order_no
    transaction_id: str | None = None
    amount_fen: int | None = None
    refund_id: str | None = None  # our out_refund_no, for refund notifications


class StatementKind(StrEnum):
    payment = "payment"
    refund = "refund"


@dataclass(frozen=True)
class StatementLine:
    """One transaction on a provider's daily statement."""

    kind: StatementKind
    external_id: str  # our out_trade_no, or out_refund_no for a refund
    transaction_id: str
    amount_fen: int
    at: datetime


class PaymentProvider(Protocol):
    name: str
    capabilities: Capabilities

    def pay(self, order: Order, idempotency_key: str) -> Checkout:
        """Take `order.amount_fen` (a top-up, or a session paid ahead)."""

    def hold(self, order: Order, idempotency_key: str) -> Checkout:
        """Reserve `order.amount_fen` without charging it."""

    def capture(self, hold: HoldRef, amount_fen: int) -> str | None:
        """Charge `amount_fen` of a held amount; the provider's transaction id if it gives one."""

    def release(self, hold: HoldRef, amount_fen: int, captured_fen: int) -> None:
        """Give back `amount_fen` of a hold of which `captured_fen` was charged (0: the whole hold)."""

    def refund(self, paid: PaidRef, sequence: int, amount_fen: int, reason: str) -> RefundResult:
        """Send `amount_fen` back to the original payment; `sequence` numbers the refunds of one payment."""

    def query(self, external_id: str, purpose: str) -> OrderStatus:
        """The order's state at the provider, for when its notification never comes."""

    def query_refund(self, paid: PaidRef, refund_id: str) -> RefundResult:
        """A refund's state at the provider."""

    def close(self, external_id: str, purpose: str) -> None:
        """Close an order the payer never paid, so it can no longer be paid."""

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> Notification:
        """Verify (BadSignature if not) and read one notification."""

    def statement(self, day: date) -> list[StatementLine]:
        """Every transaction on the provider's statement (对账单) of that day, in China time."""
