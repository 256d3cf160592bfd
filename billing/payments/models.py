from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.core.clock import utcnow
from backend.core.types import BigInt, MoneyFen, exact_decimal

MAX_TOP_UP = Decimal("2000.00")


class PaymentStatus(StrEnum):
    pending = "pending"  # ordered; the payer has not confirmed in WeChat or Alipay yet
    succeeded = "succeeded"
    failed = "failed"
    closed = "closed"  # never paid, and closed at the provider so it cannot be paid any more


class PaymentPurpose(StrEnum):
    top_up = "top_up"  # into the wallet
    session = "session"  # paid ahead for one session; what it does not use goes back at once


class Payment(SQLModel, table=True):
    """Money a vendor paid through a provider: a wallet top-up or one session paid ahead."""

    id: int | None = Field(default=None, primary_key=True, sa_type=BigInt)
    user_id: int = Field(foreign_key="user.id", index=True)
    provider: str = Field(max_length=20)
    # Stripe's PaymentIntent; our out_trade_no (one per attempt) at WeChat Pay and Alipay.
    external_id: str = Field(unique=True, max_length=120)
    transaction_id: str | None = Field(default=None, max_length=120)  # the provider's own id, once paid
    purpose: PaymentPurpose = Field(default=PaymentPurpose.top_up, max_length=16)
    amount: Decimal = Field(sa_type=MoneyFen)
    status: PaymentStatus = Field(max_length=16, index=True)
    outlet_id: int | None = Field(default=None, foreign_key="outlet.id")  # a session paid ahead: where to start it
    session_id: int | None = Field(default=None, foreign_key="usage_session.id", index=True, sa_type=BigInt)
    created_at: datetime = Field(default_factory=utcnow)
    paid_at: datetime | None = None
    checked_at: datetime | None = None  # when the provider was last asked about a pending order
    settled_at: datetime | None = None  # a session paid ahead: its unused part was sent back
    failure_reason: str | None = Field(default=None, max_length=255)  # why it failed, or why its session never ran


class HoldStatus(StrEnum):
    pending = "pending"  # asked for; the payer has not confirmed it in the app yet
    authorized = "authorized"  # reserved; nothing is charged yet
    captured = "captured"  # the settled amount was charged, the rest released
    charged_to_wallet = "charged_to_wallet"  # below the provider's minimum: released, wallet debited
    released = "released"  # nothing to charge: the whole reservation was released
    canceled = "canceled"  # the provider canceled it (Stripe: expired after 7 days)
    failed = "failed"  # never confirmed by the payer

    @property
    def is_open(self) -> bool:
        return self is HoldStatus.authorized


class Hold(SQLModel, table=True):
    """A reservation backing one session: a card pre-authorisation, a 微信支付分 order or an Alipay freeze."""

    __tablename__ = "payment_hold"
    id: int | None = Field(default=None, primary_key=True, sa_type=BigInt)
    user_id: int = Field(foreign_key="user.id", index=True)
    session_id: int | None = Field(default=None, foreign_key="usage_session.id", index=True, sa_type=BigInt)
    provider: str = Field(default="stripe", max_length=20)
    # Stripe's PaymentIntent; our out_order_no at WeChat Pay (支付分) and Alipay (资金预授权).
    external_id: str = Field(unique=True, max_length=120)
    transaction_id: str | None = Field(default=None, max_length=120)  # Alipay's auth_no; WeChat's payment, once paid
    outlet_id: int | None = Field(default=None, foreign_key="outlet.id")  # where to start once confirmed
    amount: Decimal = Field(sa_type=MoneyFen)
    captured_amount: Decimal = Field(default=Decimal("0.00"), sa_type=MoneyFen)
    wallet_amount: Decimal = Field(default=Decimal("0.00"), sa_type=MoneyFen)
    # The smallest amount the provider captures: a bill below it is charged to the wallet instead.
    minimum_capture: Decimal = Field(default=Decimal("0.01"), sa_type=MoneyFen)
    status: HoldStatus = Field(default=HoldStatus.authorized, max_length=20, index=True)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    closed_at: datetime | None = None
    checked_at: datetime | None = None
    failure_reason: str | None = Field(default=None, max_length=255)

    @property
    def settled_amount(self) -> Decimal:
        return self.captured_amount + self.wallet_amount

    @property
    def payment_intent_id(self) -> str:
        """Stripe's name for the reference (the card holds' code and tests speak it)."""
        return self.external_id


class RefundStatus(StrEnum):
    pending = "pending"  # accepted by the provider; it reports the outcome later (WeChat Pay)
    succeeded = "succeeded"
    failed = "failed"  # the money stayed with us (and went back to where it was booked from)


class Refund(SQLModel, table=True):
    """Money sent back to the original payment: a top-up, a session paid ahead, or a captured hold."""

    id: int | None = Field(default=None, primary_key=True, sa_type=BigInt)
    external_id: str = Field(unique=True, max_length=120)  # Stripe's re_…; our out_refund_no elsewhere
    payment_external_id: str = Field(index=True, max_length=120)  # the Payment or Hold it refunds
    provider: str = Field(default="stripe", max_length=20)
    amount: Decimal = Field(sa_type=MoneyFen)
    status: RefundStatus = Field(default=RefundStatus.succeeded, max_length=16)
    transaction_id: str | None = Field(default=None, max_length=120)  # the provider's own refund id
    reason: str = Field(default="", max_length=255)
    created_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None

    @property
    def payment_intent_id(self) -> str:
        return self.payment_external_id


class StripeEvent(SQLModel, table=True):
    """A webhook event, stored once per id so that a redelivery changes nothing."""

    __tablename__ = "stripe_event"
    id: str = Field(primary_key=True, max_length=255)
    type: str = Field(max_length=120)
    object_id: str = Field(default="", max_length=255, index=True)
    received_at: datetime = Field(default_factory=utcnow)
    processed_at: datetime | None = None


class PaymentNotification(SQLModel, table=True):
    """A WeChat Pay or Alipay notification, stored once per provider and id: a replay changes nothing."""

    __tablename__ = "payment_notification"
    __table_args__ = (UniqueConstraint("provider", "notification_id", name="uq_payment_notification"),)
    id: int | None = Field(default=None, primary_key=True, sa_type=BigInt)
    provider: str = Field(max_length=20)
    notification_id: str = Field(max_length=255)
    type: str = Field(max_length=120)
    external_id: str = Field(default="", max_length=120, index=True)
    received_at: datetime = Field(default_factory=utcnow)
    processed_at: datetime | None = None


class StatementCheck(SQLModel, table=True):
    """One provider's daily statement (对账单) compared with our books."""

    __tablename__ = "statement_check"
    __table_args__ = (UniqueConstraint("provider", "day", name="uq_statement_check"),)
    id: int | None = Field(default=None, primary_key=True)
    provider: str = Field(max_length=20)
    day: date
    lines: int = 0
    matched: int = 0
    differences: int = 0
    checked_at: datetime = Field(default_factory=utcnow)


class PaymentDifference(SQLModel, table=True):
    """Where a provider's statement and our books disagree, for an operator to look into."""

    __tablename__ = "payment_difference"
    __table_args__ = (UniqueConstraint("provider", "day", "kind", "reference", name="uq_payment_difference"),)
    id: int | None = Field(default=None, primary_key=True, sa_type=BigInt)
    provider: str = Field(max_length=20)
    day: date = Field(index=True)
    kind: str = Field(max_length=32)  # missing_in_books, missing_at_provider, amount_differs
    reference: str = Field(max_length=120)  # our out_trade_no / out_refund_no
    provider_amount: Decimal | None = Field(default=None, sa_type=MoneyFen)
    book_amount: Decimal | None = Field(default=None, sa_type=MoneyFen)
    detail: str = Field(default="", max_length=255)
    found_at: datetime = Field(default_factory=utcnow)


class TopUp(SQLModel):
    amount: exact_decimal(gt=0, le=MAX_TOP_UP, places=2)


class WalletPublic(SQLModel):
    balance: Decimal
    owed: Decimal = Field(default=Decimal("0.00"), description="What the vendor owes (arrears: electricity the "
                          "meter reported late, or a card bill below the minimum, that the wallet could not cover); "
                          "taken from the next top-up")
    currency: str = "CNY"


class Withdrawal(SQLModel):
    amount: exact_decimal(gt=0, le=100_000, places=2) | None = Field(
        default=None, description="Yuan to send back; absent: everything not reserved by open sessions")
