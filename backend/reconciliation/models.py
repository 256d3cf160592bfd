"""Reconciliation outcomes the scheduler keeps, so operators see imbalances without asking for each point."""
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.core.clock import utcnow
from backend.core.types import BigInt, MoneyFen


class DailyReconciliation(SQLModel, table=True):
    """One point's conservation check of one local day; a rerun replaces it (late meter data changes it)."""

    __tablename__ = "daily_reconciliation"
    __table_args__ = (UniqueConstraint("point_id", "day", name="uq_daily_reconciliation"),)
    id: int | None = Field(default=None, primary_key=True, sa_type=BigInt)
    point_id: int = Field(foreign_key="metering_point.id", index=True)
    day: date = Field(index=True)
    register_delta_wh: int = Field(default=0, sa_type=BigInt)
    session_energy_wh: int = Field(default=0, sa_type=BigInt)
    unattributed_wh: int = Field(default=0, sa_type=BigInt)
    gap_wh: int = Field(default=0, sa_type=BigInt)
    open_sessions: int = 0  # running at the day's end: counted on the day they end, so part of the gap
    mismatched_sessions: int = 0  # settled for other than their readings show: an imbalance to look at
    anomalies: int = 0  # register resets, rollovers, impossible jumps
    balanced: bool = True  # no mismatched session and no anomaly
    note: str = Field(default="", max_length=1000)
    checked_at: datetime = Field(default_factory=utcnow)


class MonthlyStatement(SQLModel, table=True):
    """One point's month as the scheduler closed it: its figures and the bill of its unattributed energy."""

    __tablename__ = "monthly_statement"
    __table_args__ = (UniqueConstraint("point_id", "month", name="uq_monthly_statement"),)
    id: int | None = Field(default=None, primary_key=True, sa_type=BigInt)
    point_id: int = Field(foreign_key="metering_point.id", index=True)
    month: str = Field(max_length=7, index=True)  # YYYY-MM, Asia/Shanghai
    register_delta_wh: int = Field(default=0, sa_type=BigInt)
    session_energy_wh: int = Field(default=0, sa_type=BigInt)
    unattributed_wh: int = Field(default=0, sa_type=BigInt)
    gap_wh: int = Field(default=0, sa_type=BigInt)
    collected: Decimal = Field(default=Decimal("0.00"), sa_type=MoneyFen)
    unattributed_amount: Decimal | None = Field(default=None, sa_type=MoneyFen)  # None: not billed (see note)
    bill_entry_id: int | None = Field(default=None, sa_type=BigInt)
    note: str = Field(default="", max_length=255)
    closed_at: datetime = Field(default_factory=utcnow)
