from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import BigInteger, Index, text
from pydantic import model_validator
from sqlmodel import Field, SQLModel

from backend.core.clock import utcnow
from backend.points.models import QR_TOKEN
from backend.core.types import BigInt, ExactDecimal, MoneyFen, exact_decimal
from billing.payments.providers import PayWith


class SessionStatus(StrEnum):
    starting = "starting"  # close command sent, waiting for the meter's ack
    active = "active"  # relay closed, start register known
    stopping = "stopping"  # open command sent, waiting for the meter's ack
    completed = "completed"  # stop register known and settled
    failed = "failed"  # never started: the meter refused or did not answer

    @property
    def is_open(self) -> bool:
        return self in (SessionStatus.starting, SessionStatus.active, SessionStatus.stopping)


OPEN_STATUSES = [SessionStatus.starting, SessionStatus.active, SessionStatus.stopping]


class StopReason(StrEnum):
    vendor = "vendor"
    remote = "remote"  # an operator stopped it
    applicant = "applicant"  # the point's applicant stopped it (closing time, safety)
    point_closed = "point_closed"  # the operator closed the point
    point_expired = "point_expired"  # the point's validity ended
    max_duration = "max_duration"  # it ran for SESSION_MAX_HOURS: the platform stopped it (no zombie sessions)
    no_start_ack = "no_start_ack"  # the platform gave up on the start ack and switched it off; the meter ran it
    limit_reached = "limit_reached"
    meter = "meter"  # the meter ended it for a reason it did not name
    overload = "overload"
    power_loss = "power_loss"
    unplugged = "unplugged"
    no_load = "no_load"


HoldAmount = exact_decimal(gt=0, le=2000, places=2)
OPEN_SESSION_SQL = text("status IN ('starting', 'active', 'stopping')")


class UsageSession(SQLModel, table=True):
    __tablename__ = "usage_session"
    # The database itself refuses a second open session on one outlet.
    __table_args__ = (Index("uq_open_session_per_outlet", "outlet_id", unique=True,
                            postgresql_where=OPEN_SESSION_SQL, sqlite_where=OPEN_SESSION_SQL),)
    id: int | None = Field(default=None, primary_key=True, sa_type=BigInt)
    outlet_id: int = Field(foreign_key="outlet.id", index=True)
    point_id: int = Field(foreign_key="metering_point.id", index=True)
    meter_id: int = Field(foreign_key="meter.id", index=True)
    vendor_id: int = Field(foreign_key="user.id", index=True)
    channel: int
    tariff_id: int = Field(foreign_key="tariff.id")
    status: SessionStatus = Field(default=SessionStatus.starting, max_length=16, index=True)
    # The price in effect when the session started, for display; the bill prices each period.
    price_per_kwh: Decimal = Field(sa_type=ExactDecimal)
    energy_limit_wh: int = Field(sa_type=BigInt)
    # The most the session can cost (per-session fee + the limit at the dearest price), fixed at Start:
    # what it reserves of the wallet while open, and the cap on its bill.
    max_amount: Decimal | None = Field(default=None, sa_type=MoneyFen)
    start_cmd_id: str = Field(max_length=40, unique=True)
    stop_cmd_id: str | None = Field(default=None, max_length=40, unique=True)
    requested_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    stop_requested_at: datetime | None = None
    ended_at: datetime | None = None
    start_register_wh: int | None = Field(default=None, sa_type=BigInt)
    start_boot_id: str | None = Field(default=None, max_length=64)
    start_seq: int | None = Field(default=None, sa_type=BigInteger)
    latest_register_wh: int | None = Field(default=None, sa_type=BigInt)
    latest_boot_id: str | None = Field(default=None, max_length=64)
    latest_seq: int | None = Field(default=None, sa_type=BigInteger)
    # The live view counts energy by the billing rules one reading at a time (monotone through resets).
    live_energy_wh: int | None = Field(default=None, sa_type=BigInteger)
    live_billed_to_wh: int | None = Field(default=None, sa_type=BigInteger)
    latest_amount: Decimal | None = Field(default=None, sa_type=MoneyFen)
    latest_power_w: float | None = None
    latest_reading_at: datetime | None = None
    stop_register_wh: int | None = Field(default=None, sa_type=BigInt)
    stop_boot_id: str | None = Field(default=None, max_length=64)
    stop_seq: int | None = Field(default=None, sa_type=BigInteger)
    energy_wh: int | None = Field(default=None, sa_type=BigInt)
    amount: Decimal | None = Field(default=None, sa_type=MoneyFen)
    stop_reason: StopReason | None = Field(default=None, max_length=20)
    failure_reason: str | None = Field(default=None, max_length=255)
    needs_review: bool = False
    review_note: str | None = Field(default=None, max_length=1000)
    # Settled from the last reading because the meter never confirmed the stop; its record re-settles it.
    provisional: bool = False
    # A reading arrived after settlement: re-price once the readings stop coming (one adjustment, not one each).
    reprice_due_at: datetime | None = Field(default=None, index=True)


class BillLine(SQLModel, table=True):
    """One priced line of a settled session: energy in one tariff period, or a service fee."""

    __tablename__ = "bill_line"
    id: int | None = Field(default=None, primary_key=True, sa_type=BigInt)
    session_id: int = Field(foreign_key="usage_session.id", index=True, sa_type=BigInt)
    kind: str = Field(max_length=16)  # "energy" or "service_fee"
    period: str = Field(max_length=32)  # a tariff period, or "per_kwh" / "per_session" for fees
    version: str = Field(max_length=80)
    energy_wh: int | None = Field(default=None, sa_type=BigInt)
    unit_price: Decimal = Field(sa_type=ExactDecimal)
    amount: Decimal = Field(sa_type=MoneyFen)
    starts_at: datetime | None = None
    ends_at: datetime | None = None


class BillLinePublic(SQLModel):
    kind: str
    period: str
    version: str
    energy_wh: int | None
    unit_price: Decimal
    amount: Decimal
    starts_at: datetime | None
    ends_at: datetime | None


class SessionStart(SQLModel):
    outlet_token: str = Field(min_length=8, max_length=64, schema_extra={"pattern": QR_TOKEN})
    hold_amount: HoldAmount | None = Field(
        default=None,
        description="Pay through a provider: the most this session may cost. A card, 微信支付分 or 支付宝资金预授权 "
                    "holds it and charges only the bill; otherwise it is paid ahead and the unused part goes back "
                    "at once. Absent: pay from the wallet.")
    provider: PayWith | None = Field(default=None, description="card, wechat or alipay (needs hold_amount); absent "
                                                               "with hold_amount: the installation's default")
    openid: str | None = Field(default=None, schema_extra={"pattern": r"^[A-Za-z0-9_-]{1,128}$"},
                               description="WeChat Pay inside WeChat: the payer's openid (JSAPI)")

    @model_validator(mode="after")
    def amount_with_provider(self) -> "SessionStart":
        if self.provider is not None and self.hold_amount is None:
            raise ValueError("a provider needs hold_amount: the most the session may cost")
        return self


class SessionPublic(SQLModel):
    id: int
    outlet_id: int
    point_id: int
    channel: int
    status: SessionStatus
    price_per_kwh: Decimal
    energy_limit_wh: int
    max_amount: Decimal | None = Field(description="The most this session can cost, fixed at Start: the per-session "
                                                   "fee plus the energy limit at the dearest price ahead")
    requested_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    start_register_wh: int | None
    stop_register_wh: int | None
    energy_wh: int = Field(description="Energy so far (live) or settled, in Wh")
    amount: Decimal = Field(description="Cost so far (live) or settled amount, in yuan")
    power_w: float | None
    stop_reason: StopReason | None
    failure_reason: str | None
    needs_review: bool
    review_note: str | None = Field(default=None, description="Why the session is under review, in words")
    provisional: bool = Field(default=False, description="Settled from the last reading: the meter has not "
                                                         "confirmed the stop yet; its record will re-settle it")


class ReceiptPublic(SQLModel):
    """The bill, explained: registers, energy and money per tariff period, and one hint."""

    session: SessionPublic
    point_name: str
    tariff_name: str
    lines: list[BillLinePublic]
    energy_amount: Decimal
    water_m3: Decimal | None = Field(description="Water pumped, by the well's coefficient (以电折水)")
    m3_per_kwh: Decimal | None
    service_fee_amount: Decimal
    total: Decimal
    refunded: Decimal = Field(description="Money given back for this session since it was settled")
    hint_en: str
    hint_zh: str


class SessionsPublic(SQLModel):
    data: list[SessionPublic]
    count: int
