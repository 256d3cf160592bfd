from decimal import Decimal
from enum import StrEnum

from sqlmodel import Field, SQLModel

from backend.core.types import ExactDecimal


class TariffCategory(StrEnum):
    agricultural = "agricultural"
    commercial = "commercial"
    residential = "residential"


class TariffBase(SQLModel):
    name: str = Field(max_length=120)
    category: TariffCategory = Field(max_length=20)
    price_per_kwh: Decimal = Field(sa_type=ExactDecimal, gt=0, le=100)


class Tariff(TariffBase, table=True):
    id: int | None = Field(default=None, primary_key=True)


class TariffPublic(TariffBase):
    id: int
