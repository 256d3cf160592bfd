from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import model_validator
from pydantic_core import PydanticCustomError
from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.core.clock import utcnow
from backend.meters.register_rules import REGISTER_RESOLUTION_WH, ROLLOVER_WH, RegisterModel
from backend.core.types import MAX_INTEGER, ExactDecimal, Text, exact_decimal

MAX_VALIDITY_DAYS = 184  # a temporary connection lasts at most about six months
CapacityKw = exact_decimal(gt=0, le=1000, places=3)  # to the watt
RatedCurrentA = exact_decimal(gt=0, le=125, places=2)
QR_TOKEN = r"^[A-Za-z0-9_-]{8,64}$"  # secrets.token_urlsafe, as printed on the labels


class Purpose(StrEnum):
    irrigation = "irrigation"
    night_market = "night_market"
    tea_processing = "tea_processing"
    other = "other"


class PointStatus(StrEnum):
    submitted = "submitted"
    approved = "approved"
    active = "active"
    rejected = "rejected"
    closed = "closed"
    expired = "expired"


class PointBase(SQLModel):
    name: Text = Field(min_length=1, max_length=120)
    address: Text = Field(min_length=1, max_length=255)
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    purpose: Purpose = Field(max_length=20)
    capacity_kw: CapacityKw = Field(sa_type=ExactDecimal)
    valid_from: date
    valid_until: date


class MeteringPoint(PointBase, table=True):
    __tablename__ = "metering_point"
    id: int | None = Field(default=None, primary_key=True)
    applicant_id: int = Field(foreign_key="user.id", index=True)
    tariff_id: int | None = Field(default=None, foreign_key="tariff.id")
    outlet_count: int
    outlet_rated_current_a: Decimal = Field(sa_type=ExactDecimal)
    status: PointStatus = Field(default=PointStatus.submitted, max_length=16, index=True)
    status_note: str = Field(default="", max_length=255)
    created_at: datetime = Field(default_factory=utcnow)
    approved_at: datetime | None = None


class PointApply(PointBase):
    outlet_count: int = Field(ge=1, le=32)
    outlet_rated_current_a: RatedCurrentA = Decimal("16")

    @model_validator(mode="after")
    def _validity_is_temporary(self):
        if self.valid_until < self.valid_from:
            raise PydanticCustomError("validity_order", "valid_until must not be before valid_from")
        if (self.valid_until - self.valid_from).days > MAX_VALIDITY_DAYS:
            raise PydanticCustomError("validity_too_long", "a temporary connection lasts at most {max_days} days",
                                      {"max_days": MAX_VALIDITY_DAYS})
        return self


class PointApprove(SQLModel):
    tariff_id: int = Field(ge=1, le=MAX_INTEGER)


class PointReject(SQLModel):
    reason: Text = Field(min_length=1, max_length=255)


class PointPublic(SQLModel):
    """A point as stored; not PointBase, so that a rule tightened later cannot make an old row unreadable."""

    id: int
    name: str
    address: str
    latitude: float
    longitude: float
    purpose: Purpose
    capacity_kw: Decimal
    valid_from: date
    valid_until: date
    applicant_id: int
    tariff_id: int | None
    outlet_count: int
    outlet_rated_current_a: Decimal
    status: PointStatus
    status_note: str


class PointsPublic(SQLModel):
    data: list[PointPublic]
    count: int


class Meter(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    point_id: int = Field(foreign_key="metering_point.id", unique=True)
    serial: str = Field(unique=True, index=True, max_length=32)
    mqtt_username: str = Field(unique=True, max_length=64)
    # Kept so the broker's password file can be generated; see docs/security.md.
    mqtt_password: str = Field(max_length=128)
    online: bool = False
    last_seen: datetime | None = None
    boot_id: str | None = Field(default=None, max_length=64)
    # The commissioning sheet shows the password once; re-issuing a password shows the new one once.
    credentials_shown_at: datetime | None = None


class MeterPublic(SQLModel):
    id: int
    point_id: int
    serial: str
    mqtt_username: str
    online: bool
    last_seen: datetime | None


class MeterCredentials(SQLModel):
    """What an installer configures on the meter's 4G module (see docs/protocol.md)."""

    serial: str
    mqtt_client_id: str
    mqtt_username: str
    mqtt_password: str
    topic_prefix: str


class Outlet(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("meter_id", "channel"),)
    id: int | None = Field(default=None, primary_key=True)
    meter_id: int = Field(foreign_key="meter.id", index=True)
    point_id: int = Field(foreign_key="metering_point.id", index=True)
    channel: int
    rated_current_a: Decimal = Field(sa_type=ExactDecimal)
    qr_token: str = Field(unique=True, index=True, max_length=64)
    # When the platform last ordered this relay open because it was closed with no session (once per reconnect).
    relay_open_ordered_at: datetime | None = None
    # How its register counts (docs/register-rules.md): whole Wh for protocol v1, 10 Wh for DL/T 645-2007.
    register_step_wh: int = REGISTER_RESOLUTION_WH
    register_rollover_wh: int = ROLLOVER_WH

    @property
    def register(self) -> RegisterModel:
        return RegisterModel(self.register_step_wh, self.register_rollover_wh)


class OutletPublic(SQLModel):
    id: int
    point_id: int
    channel: int
    rated_current_a: Decimal
    qr_url: str
