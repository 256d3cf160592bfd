from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import Text
from sqlmodel import Field, SQLModel


class TariffCategory(StrEnum):
    agricultural = "agricultural"
    commercial = "commercial"
    residential = "residential"


class Tariff(SQLModel, table=True):
    """A tariff as data: its definition is a billing.tariffs document (versions with effective dates)."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, index=True, max_length=80)
    name: str = Field(max_length=120)
    category: TariffCategory = Field(max_length=20)
    definition: str = Field(sa_type=Text)


class TariffWrite(SQLModel):
    """A tariff document: name, title, category and versions (see docs/tariffs.md)."""

    definition: dict[str, Any]


class PriceNow(SQLModel):
    period: str
    price_per_kwh: Decimal
    until: datetime | None
    service_fee_per_kwh: Decimal | None
    service_fee_per_session: Decimal | None
    version: str


class TariffPublic(SQLModel):
    id: int
    code: str
    name: str
    category: TariffCategory
    now: PriceNow
    definition: dict[str, Any]
