from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

from backend.core.clock import utcnow
from backend.core.types import BigInt


class AuditEntry(SQLModel, table=True):
    """One operator action: who, what, on which thing, when, and the thing before and after (JSON)."""

    __tablename__ = "audit_entry"
    id: int | None = Field(default=None, primary_key=True, sa_type=BigInt)
    at: datetime = Field(default_factory=utcnow, index=True)
    actor_id: int = Field(foreign_key="user.id", index=True)
    action: str = Field(max_length=40, index=True)
    target_type: str = Field(max_length=20)
    target_id: int = Field(sa_type=BigInt)
    before: str | None = Field(default=None, sa_type=Text)
    after: str | None = Field(default=None, sa_type=Text)
    note: str = Field(default="", max_length=255)


class AuditEntryPublic(SQLModel):
    id: int
    at: datetime
    actor_id: int
    action: str
    target_type: str
    target_id: int
    before: dict | None
    after: dict | None
    note: str
