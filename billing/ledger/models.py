from datetime import datetime
from decimal import Decimal

from sqlmodel import Field, SQLModel

from backend.core.clock import utcnow
from backend.core.types import BigInt, MoneyFen


class LedgerAccount(SQLModel, table=True):
    """An account; its balance is the sum of its postings (money flows from − to +)."""

    __tablename__ = "ledger_account"
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, index=True, max_length=64)
    kind: str = Field(max_length=32)
    user_id: int | None = Field(default=None, foreign_key="user.id", index=True)


class JournalEntry(SQLModel, table=True):
    __tablename__ = "journal_entry"
    id: int | None = Field(default=None, primary_key=True, sa_type=BigInt)
    idempotency_key: str = Field(unique=True, max_length=120)
    kind: str = Field(max_length=32)
    memo: str = Field(default="", max_length=255)
    session_id: int | None = Field(default=None, foreign_key="usage_session.id", index=True, sa_type=BigInt)
    created_at: datetime = Field(default_factory=utcnow)


class Posting(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True, sa_type=BigInt)
    entry_id: int = Field(foreign_key="journal_entry.id", index=True, sa_type=BigInt)
    account_id: int = Field(foreign_key="ledger_account.id", index=True)
    amount: Decimal = Field(sa_type=MoneyFen)
