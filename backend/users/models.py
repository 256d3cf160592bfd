from datetime import datetime
from enum import StrEnum

from pydantic import field_validator
from pydantic_core import PydanticCustomError
from sqlmodel import Field, SQLModel

from backend.core.clock import utcnow
from backend.core.types import Text

PHONE_PATTERN = r"^\+?[0-9]{6,15}$"


class Role(StrEnum):
    operator = "operator"
    applicant = "applicant"
    vendor = "vendor"


class UserBase(SQLModel):
    phone: str = Field(index=True, unique=True, max_length=16)
    name: str = Field(default="", max_length=80)


class User(UserBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    role: Role = Field(max_length=16)
    password_hash: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow)


class UserCreate(SQLModel):
    phone: str = Field(max_length=16, schema_extra={"pattern": PHONE_PATTERN})
    name: Text = Field(default="", max_length=80)
    password: str = Field(min_length=8, max_length=128)
    role: Role = Role.vendor

    @field_validator("role")
    @classmethod
    def _no_self_made_operators(cls, role: Role) -> Role:
        if role == Role.operator:
            raise PydanticCustomError("self_made_operator", "operators are created by an operator, not by sign-up")
        return role


class UserPublic(UserBase):
    id: int
    role: Role


class RevokedToken(SQLModel, table=True):
    """An access token signed out before it expired; kept until it would have expired anyway."""

    __tablename__ = "revoked_token"

    token_id: str = Field(primary_key=True, max_length=32)
    expires_at: datetime = Field(index=True)


class AttemptCounter(SQLModel, table=True):
    """Attempts of one kind by one key (a phone number, a client address) in the current window."""

    __tablename__ = "attempt_counter"

    scope: str = Field(primary_key=True, max_length=16)
    subject: str = Field(primary_key=True, max_length=64)
    attempts: int
    window_started_at: datetime = Field(index=True)
    locked_until: datetime | None = None
