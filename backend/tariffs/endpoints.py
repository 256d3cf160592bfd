from fastapi import APIRouter

from backend.deps import CurrentUser, SessionDep
from backend.tariffs import service
from backend.tariffs.models import Tariff, TariffPublic

router = APIRouter(tags=["tariffs"])


@router.get("/tariffs", response_model=list[TariffPublic])
def list_tariffs(db: SessionDep, _: CurrentUser) -> list[Tariff]:
    """Every tariff a point can be given."""
    return service.list_tariffs(db)
