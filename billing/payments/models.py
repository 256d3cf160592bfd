from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlmodel import Field, SQLModel

from backend.core.clock import utcnow
from backend.core.types import MoneyFen

MAX_TOP_UP = Decimal("2000.00")


class PaymentStatus(StrEnum):
    succeeded = "succeeded"
    failed = "failed"


class Payment(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    provider: str = Field(max_length=20)
    external_id: str = Field(unique=True, max_length=120)
    amount: Decimal = Field(sa_type=MoneyFen)
    status: PaymentStatus = Field(max_length=16)
    created_at: datetime = Field(default_factory=utcnow)


class TopUp(SQLModel):
    amount: Decimal = Field(gt=0, le=MAX_TOP_UP, decimal_places=2)


class WalletPublic(SQLModel):
    balance: Decimal
    currency: str = "CNY"
