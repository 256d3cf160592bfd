from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlmodel import Field, SQLModel

from backend.core.clock import utcnow
from backend.core.types import BigInt, MoneyFen, exact_decimal

MAX_TOP_UP = Decimal("2000.00")


class PaymentStatus(StrEnum):
    succeeded = "succeeded"
    failed = "failed"


class Payment(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True, sa_type=BigInt)
    user_id: int = Field(foreign_key="user.id", index=True)
    provider: str = Field(max_length=20)
    external_id: str = Field(unique=True, max_length=120)
    amount: Decimal = Field(sa_type=MoneyFen)
    status: PaymentStatus = Field(max_length=16)
    created_at: datetime = Field(default_factory=utcnow)


class HoldStatus(StrEnum):
    authorized = "authorized"  # the card issuer reserved the amount; nothing is charged yet
    captured = "captured"  # the settled amount was taken by card, the rest released
    charged_to_wallet = "charged_to_wallet"  # below Stripe's minimum: released, wallet debited
    released = "released"  # nothing to charge: the whole reservation was released
    canceled = "canceled"  # Stripe canceled it (expired after 7 days, or declined later)

    @property
    def is_open(self) -> bool:
        return self is HoldStatus.authorized


class Hold(SQLModel, table=True):
    """A card pre-authorisation (PaymentIntent with manual capture) backing one session."""

    __tablename__ = "card_hold"
    id: int | None = Field(default=None, primary_key=True, sa_type=BigInt)
    user_id: int = Field(foreign_key="user.id", index=True)
    session_id: int | None = Field(default=None, foreign_key="usage_session.id", index=True, sa_type=BigInt)
    payment_intent_id: str = Field(unique=True, max_length=120)
    amount: Decimal = Field(sa_type=MoneyFen)
    captured_amount: Decimal = Field(default=Decimal("0.00"), sa_type=MoneyFen)
    wallet_amount: Decimal = Field(default=Decimal("0.00"), sa_type=MoneyFen)
    status: HoldStatus = Field(default=HoldStatus.authorized, max_length=20, index=True)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    closed_at: datetime | None = None

    @property
    def settled_amount(self) -> Decimal:
        return self.captured_amount + self.wallet_amount


class Refund(SQLModel, table=True):
    """Money sent back to a card through Stripe, for a top-up or a captured hold."""

    id: int | None = Field(default=None, primary_key=True, sa_type=BigInt)
    external_id: str = Field(unique=True, max_length=120)
    payment_intent_id: str = Field(index=True, max_length=120)
    amount: Decimal = Field(sa_type=MoneyFen)
    reason: str = Field(default="", max_length=255)
    created_at: datetime = Field(default_factory=utcnow)


class StripeEvent(SQLModel, table=True):
    """A webhook event, stored once per id so that a redelivery changes nothing."""

    __tablename__ = "stripe_event"
    id: str = Field(primary_key=True, max_length=255)
    type: str = Field(max_length=120)
    object_id: str = Field(default="", max_length=255, index=True)
    received_at: datetime = Field(default_factory=utcnow)
    processed_at: datetime | None = None


class TopUp(SQLModel):
    amount: exact_decimal(gt=0, le=MAX_TOP_UP, places=2)


class Withdrawal(SQLModel):
    amount: exact_decimal(gt=0, le=100_000, places=2) | None = Field(
        default=None, description="Yuan to send back; absent: everything not reserved by open sessions")


class WalletPublic(SQLModel):
    balance: Decimal
    currency: str = "CNY"
