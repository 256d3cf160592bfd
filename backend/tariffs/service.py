"""Tariffs are stored as documents; the pure engine in billing.tariffs prices them."""
import json
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlmodel import Session, select

from backend.audit.service import record
from backend.core.clock import utcnow
from backend.core.errors import Conflict, NotFound, ScanPowerError
from backend.core.rows import insert_once
from backend.tariffs.models import PriceNow, Tariff, TariffCategory, TariffPublic
from billing import tariffs as engine
from billing.tariffs import NoTariffInEffect

DEFAULT_TARIFFS = ("agricultural_production_flat", "jiangsu_commercial_tou_2025")


class TariffNotFound(NotFound):
    pass


class InvalidTariffDocument(ScanPowerError):
    status_code = 422


class TariffHistoryIsFixed(Conflict):
    pass


def suggested_category(purpose: str) -> TariffCategory:
    """Irrigation is agricultural production use; stalls and processing sheds are commercial."""
    return TariffCategory.agricultural if purpose == "irrigation" else TariffCategory.commercial


@lru_cache(maxsize=512)
def _parse(definition: str) -> engine.Tariff:
    return engine.load_tariff_json(definition)


def tariff_engine(tariff: Tariff) -> engine.Tariff:
    """The priced form of a stored tariff (parsed once per definition)."""
    return _parse(tariff.definition)


def list_tariffs(db: Session) -> list[Tariff]:
    return list(db.exec(select(Tariff).order_by(Tariff.id)))


def get_tariff(db: Session, tariff_id: int) -> Tariff:
    tariff = db.get(Tariff, tariff_id)
    if tariff is None:
        raise TariffNotFound(f"tariff {tariff_id} does not exist")
    return tariff


def price_now(tariff: Tariff, at: datetime | None = None) -> PriceNow:
    """The period, price and service fees in effect at `at` (default: now)."""
    priced = tariff_engine(tariff)
    try:
        current = engine.period_in_effect(priced, at or utcnow())
    except NoTariffInEffect:
        current = engine.period_in_effect(priced, priced.versions[0].effective_from)
    fee = current.version.service_fee
    return PriceNow(period=current.period, price_per_kwh=current.price_per_kwh, until=current.until,
                    service_fee_per_kwh=fee.per_kwh if fee else None,
                    service_fee_per_session=fee.per_session if fee else None, version=current.version.label)


def starts_at(tariff: Tariff) -> datetime:
    """When the tariff's first version takes effect: before it, the tariff prices nothing."""
    return tariff_engine(tariff).versions[0].effective_from


def in_effect(tariff: Tariff, at: datetime | None = None) -> bool:
    return starts_at(tariff) <= (at or utcnow())


def tariff_public(tariff: Tariff) -> TariffPublic:
    return TariffPublic(id=tariff.id, code=tariff.code, name=tariff.name, category=tariff.category,
                        now=price_now(tariff), definition=json.loads(tariff.definition))


def create_tariff(db: Session, document: dict[str, Any], actor=None) -> Tariff:
    priced = _validated(document)
    if db.exec(select(Tariff).where(Tariff.code == priced.name)).first():
        raise TariffHistoryIsFixed(f"a tariff named {priced.name!r} exists; change it instead")
    tariff = Tariff(code=priced.name, name=priced.title or priced.name, category=priced.category,
                    definition=priced.model_dump_json())
    db.add(tariff)
    db.flush()
    record(db, actor, "tariff.create", "tariff", tariff.id, None, json.loads(tariff.definition))
    return tariff


def change_tariff(db: Session, tariff_id: int, document: dict[str, Any], now: datetime, actor=None) -> Tariff:
    """Replace a tariff's document; versions already in effect must stay as they were."""
    tariff = get_tariff(db, tariff_id)
    priced = _validated(document)
    _keep_history(tariff_engine(tariff), priced, now)
    before = json.loads(tariff.definition)
    tariff.name, tariff.category = priced.title or priced.name, priced.category
    tariff.definition = priced.model_dump_json()
    record(db, actor, "tariff.change", "tariff", tariff.id, before, json.loads(tariff.definition))
    return tariff


def _validated(document: dict[str, Any]) -> engine.Tariff:
    try:
        return engine.load_tariff(document)
    except engine.InvalidTariff as exc:
        raise InvalidTariffDocument(str(exc)) from None


def _keep_history(old: engine.Tariff, new: engine.Tariff, now: datetime) -> None:
    started = [v for v in old.versions if v.effective_from <= now]
    if list(new.versions[:len(started)]) != started:
        raise TariffHistoryIsFixed("versions already in effect cannot change: sessions were priced with them; "
                                   "add a version with a future effective date instead")
    if old.name != new.name:
        raise TariffHistoryIsFixed("a tariff's name cannot change")


def ensure_default_tariffs(db: Session) -> list[Tariff]:
    """Seed the shipped tariffs (Jiangsu commercial time-of-use, flat agricultural) once."""
    for name in DEFAULT_TARIFFS:
        if db.exec(select(Tariff).where(Tariff.code == name)).first() is None:
            priced = engine.load_seed_tariff(name)
            # Two processes starting at once on a fresh database both get here: the code is unique.
            insert_once(db, Tariff(code=name, name=priced.title or name, category=TariffCategory(priced.category),
                                   definition=priced.model_dump_json()), "code")
    return list_tariffs(db)


def default_tariff(db: Session, category: TariffCategory) -> Tariff:
    return next(t for t in ensure_default_tariffs(db) if t.category == category)
