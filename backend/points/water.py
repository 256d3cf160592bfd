"""以电折水: an irrigation well's pump energy converted to water volume by a measured coefficient."""
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from sqlmodel import Field, Session, SQLModel, select

from backend.audit.service import record, snapshot
from backend.core.errors import Conflict
from backend.core.types import ExactDecimal, exact_decimal
from backend.points.models import MeteringPoint, Purpose

M3 = Decimal("0.01")
COEFFICIENT_AUDIT = ("m3_per_kwh", "effective_from")
M3PerKwh = exact_decimal(gt=0, le=1000, places=4)


class WaterCoefficient(SQLModel, table=True):
    """m³ of water per kWh for one well, measured on a date; a new measurement supersedes it."""

    __tablename__ = "water_coefficient"
    id: int | None = Field(default=None, primary_key=True)
    point_id: int = Field(foreign_key="metering_point.id", index=True)
    m3_per_kwh: Decimal = Field(sa_type=ExactDecimal)
    effective_from: date


class WaterCoefficientWrite(SQLModel):
    m3_per_kwh: M3PerKwh
    effective_from: date


class WaterCoefficientPublic(SQLModel):
    id: int
    point_id: int
    m3_per_kwh: Decimal
    effective_from: date


class NotAnIrrigationPoint(Conflict):
    pass


def add_coefficient(db: Session, point: MeteringPoint, body: WaterCoefficientWrite, actor=None) -> WaterCoefficient:
    if point.purpose != Purpose.irrigation:
        raise NotAnIrrigationPoint(f"metering point {point.id} is for {point.purpose.value}, not irrigation")
    coefficient = WaterCoefficient(point_id=point.id, **body.model_dump())
    db.add(coefficient)
    db.flush()
    record(db, actor, "point.water_coefficient", "point", point.id, None, snapshot(coefficient, COEFFICIENT_AUDIT))
    return coefficient


def coefficients(db: Session, point_id: int) -> list[WaterCoefficient]:
    query = select(WaterCoefficient).where(WaterCoefficient.point_id == point_id)
    return list(db.exec(query.order_by(WaterCoefficient.effective_from, WaterCoefficient.id)))


def coefficient_on(found: list[WaterCoefficient], day: date) -> Decimal | None:
    """The coefficient in effect on `day`: the latest measurement on or before it."""
    in_effect = [c for c in found if c.effective_from <= day]
    return in_effect[-1].m3_per_kwh if in_effect else None


def water_m3(energy_wh: int, m3_per_kwh: Decimal) -> Decimal:
    return (Decimal(energy_wh) / 1000 * m3_per_kwh).quantize(M3, rounding=ROUND_HALF_UP)
