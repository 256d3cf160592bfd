"""What the platform has told the broker about each meter's and DTU's account (docs/security.md#live-accounts)."""
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, text
from sqlmodel import Field, SQLModel

from backend.core.clock import utcnow


class AccountKind(StrEnum):
    meter = "meter"  # username = the meter's serial
    dtu = "dtu"  # username = the DTU's id


class BrokerAccount(SQLModel, table=True):
    """One broker account: every change is a new `version`, written in the change's own transaction; the
    reconciler tells the broker and then records the version it applied. Pending while version > applied."""

    __tablename__ = "broker_account"
    __table_args__ = (Index("ix_broker_account_pending", "changed_at",
                            postgresql_where=text("version > applied_version"),
                            sqlite_where=text("version > applied_version")),)
    username: str = Field(primary_key=True, max_length=64)
    kind: str = Field(max_length=8)  # an AccountKind
    version: int = 1
    applied_version: int = 0
    applied_present: bool = False  # the broker has the account, as far as the platform knows
    applied_fingerprint: str | None = Field(default=None, max_length=64)  # of its password and rules, not secret
    attempts: int = 0  # failed attempts since the last success
    last_error: str | None = Field(default=None, max_length=255)
    changed_at: datetime = Field(default_factory=utcnow)
    applied_at: datetime | None = None
