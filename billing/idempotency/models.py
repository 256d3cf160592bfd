from datetime import datetime

from sqlalchemy import Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.core.clock import utcnow


class IdempotentRequest(SQLModel, table=True):
    """A money request sent with an Idempotency-Key: a repeat gets the first answer, never a second operation."""

    __tablename__ = "idempotent_request"
    __table_args__ = (UniqueConstraint("user_id", "key", name="uq_idempotent_request_user_key"),)
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id")
    key: str = Field(max_length=100)
    operation: str = Field(max_length=40)
    fingerprint: str = Field(max_length=64)  # sha256 of what was asked, so a reused key is recognised
    response: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow)
