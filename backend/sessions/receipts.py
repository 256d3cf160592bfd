"""The bill, explained: lines per tariff period and one plain-language hint drawn from the session."""
from dataclasses import dataclass
from decimal import Decimal

from sqlmodel import Session, select

from backend.core.clock import as_utc, local
from backend.points import water
from backend.points.service import get_point
from backend.sessions.models import BillLine, BillLinePublic, ReceiptPublic, SessionStatus, UsageSession
from backend.sessions.refunds import refunded
from backend.sessions.service import SessionNotStoppable
from backend.sessions.views import session_public
from backend.tariffs.service import get_tariff, tariff_engine
from billing.tariffs import BilledLine, valley_equivalent


class ReceiptNotReady(SessionNotStoppable):
    pass


def receipt(db: Session, session: UsageSession) -> ReceiptPublic:
    if session.status != SessionStatus.completed:
        raise ReceiptNotReady(f"session {session.id} is {session.status.value}; the receipt comes when it ends")
    lines = list(db.exec(select(BillLine).where(BillLine.session_id == session.id).order_by(BillLine.id)))
    energy = [line for line in lines if line.kind == "energy"]
    energy_amount = sum((line.amount for line in energy), Decimal("0.00"))
    fees = sum((line.amount for line in lines if line.kind == "service_fee"), Decimal("0.00"))
    hint_en, hint_zh = _hint(db, session)
    coefficient = water.coefficient_on(water.coefficients(db, session.point_id), local(session.ended_at).date())
    return ReceiptPublic(
        m3_per_kwh=coefficient,
        water_m3=water.water_m3(session.energy_wh or 0, coefficient) if coefficient is not None else None,
        session=session_public(session), point_name=get_point(db, session.point_id).name,
        tariff_name=get_tariff(db, session.tariff_id).name, lines=[_public(line) for line in lines],
        energy_amount=energy_amount, service_fee_amount=fees, total=sum((line.amount for line in lines), Decimal(0)),
        refunded=refunded(db, session),
        hint_en=hint_en, hint_zh=hint_zh)


def _public(line: BillLine) -> BillLinePublic:
    return BillLinePublic(kind=line.kind, period=line.period, version=line.version, energy_wh=line.energy_wh,
                          unit_price=line.unit_price, amount=line.amount,
                          starts_at=as_utc(line.starts_at) if line.starts_at else None,
                          ends_at=as_utc(line.ends_at) if line.ends_at else None)


@dataclass(frozen=True)
class Hint:
    """What the time of day did to a bill: one price all day, all in the cheapest hours, or what valley hours
    would have cost."""

    kind: str  # one_price, all_cheapest, could_save, too_little (the saving rounds to nothing)
    kwh: Decimal
    valley: Decimal
    paid: Decimal


def saving_hint(db: Session, session: UsageSession) -> Hint:
    lines = list(db.exec(select(BillLine).where(BillLine.session_id == session.id, BillLine.kind == "energy")))
    paid = sum((line.amount for line in lines), Decimal("0.00"))
    kwh = Decimal(session.energy_wh or 0) / 1000
    if not lines or all(line.period == "all_day" for line in lines):
        return Hint("one_price", kwh, paid, paid)
    tariff = tariff_engine(get_tariff(db, session.tariff_id))
    if all(line.unit_price == tariff.version_labelled(line.version).lowest_price() for line in lines):
        return Hint("all_cheapest", kwh, paid, paid)
    valley = valley_equivalent([_billed(line) for line in lines], tariff)
    return Hint("could_save" if valley < paid else "too_little", kwh, valley, paid)


def _hint(db: Session, session: UsageSession) -> tuple[str, str]:
    hint = saving_hint(db, session)
    kwh, valley, paid = hint.kwh, hint.valley, hint.paid
    if hint.kind == "one_price":
        return (f"{kwh:.3f} kWh at one price all day: the time of day did not change this bill.",
                f"本次用电 {kwh:.3f} 千瓦时，全天同一电价，用电时段不影响电费。")
    if hint.kind == "all_cheapest":
        return (f"{kwh:.3f} kWh, all in the cheapest hours: nothing to save by moving it.",
                f"本次用电 {kwh:.3f} 千瓦时，已全部在低谷时段。")
    if hint.kind == "too_little":
        return (f"{kwh:.3f} kWh: too little for the time of day to change the bill by a fen.",
                f"本次用电 {kwh:.3f} 千瓦时，电量很少，用电时段对电费的影响不足一分钱。")
    return (f"The same {kwh:.3f} kWh in valley hours would have cost ¥{valley:.2f} instead of ¥{paid:.2f}.",
            f"同样 {kwh:.3f} 千瓦时若在低谷时段使用，电费为 ¥{valley:.2f}（本次 ¥{paid:.2f}）。")


def _billed(line: BillLine) -> BilledLine:
    return BilledLine(period=line.period, version=line.version, energy_wh=line.energy_wh,
                      price_per_kwh=line.unit_price, amount=line.amount,
                      start=as_utc(line.starts_at), end=as_utc(line.ends_at))
