from decimal import Decimal

from sqlmodel import Session, select

from backend.core.errors import NotFound
from backend.tariffs.models import Tariff, TariffCategory

# Demonstration catalogue prices (yuan/kWh), not an official price list.
DEFAULT_TARIFFS = [
    ("Agricultural production, flat (demo price)", TariffCategory.agricultural, Decimal("0.5090")),
    ("Commercial, flat (demo price)", TariffCategory.commercial, Decimal("0.6700")),
]


class TariffNotFound(NotFound):
    pass


def suggested_category(purpose: str) -> TariffCategory:
    """Irrigation is agricultural production use; stalls and processing sheds are commercial."""
    return TariffCategory.agricultural if purpose == "irrigation" else TariffCategory.commercial


def list_tariffs(db: Session) -> list[Tariff]:
    return list(db.exec(select(Tariff).order_by(Tariff.id)))


def get_tariff(db: Session, tariff_id: int) -> Tariff:
    tariff = db.get(Tariff, tariff_id)
    if tariff is None:
        raise TariffNotFound(f"tariff {tariff_id} does not exist")
    return tariff


def ensure_default_tariffs(db: Session) -> list[Tariff]:
    if not list_tariffs(db):
        for name, category, price in DEFAULT_TARIFFS:
            db.add(Tariff(name=name, category=category, price_per_kwh=price))
        db.flush()
    return list_tariffs(db)
