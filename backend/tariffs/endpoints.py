from fastapi import APIRouter

from backend.core.api_errors import SIGNED_IN, WITH_ROLE, ApiRoute, refusals
from backend.core.clock import utcnow
from backend.deps import CurrentUser, Id, Operator, SessionDep
from backend.tariffs import service
from backend.tariffs.models import TariffPublic, TariffWrite
from backend.tariffs.service import InvalidTariffDocument, TariffHistoryIsFixed, TariffNotFound

router = APIRouter(tags=["tariffs"], route_class=ApiRoute)


@router.get("/tariffs", response_model=list[TariffPublic], responses=refusals(*SIGNED_IN))
def list_tariffs(db: SessionDep, _: CurrentUser) -> list[TariffPublic]:
    """Every tariff, with the price in effect now and its full definition."""
    return [service.tariff_public(t) for t in service.list_tariffs(db)]


@router.get("/tariffs/{tariff_id}", response_model=TariffPublic, responses=refusals(*SIGNED_IN, TariffNotFound))
def read_tariff(tariff_id: Id, db: SessionDep, _: CurrentUser) -> TariffPublic:
    """One tariff."""
    return service.tariff_public(service.get_tariff(db, tariff_id))


@router.post("/tariffs", response_model=TariffPublic, status_code=201,
             responses=refusals(*WITH_ROLE, InvalidTariffDocument, TariffHistoryIsFixed))
def create_tariff(body: TariffWrite, db: SessionDep, operator: Operator) -> TariffPublic:
    """Add a tariff (flat or time-of-use, with versions and effective dates; see docs/tariffs.md)."""
    return service.tariff_public(service.create_tariff(db, body.definition, operator))


@router.put("/tariffs/{tariff_id}", response_model=TariffPublic,
            responses=refusals(*WITH_ROLE, TariffNotFound, InvalidTariffDocument, TariffHistoryIsFixed))
def change_tariff(tariff_id: Id, body: TariffWrite, db: SessionDep, operator: Operator) -> TariffPublic:
    """Replace a tariff's definition; versions already in effect cannot change, new ones take effect at their date."""
    return service.tariff_public(service.change_tariff(db, tariff_id, body.definition, utcnow(), operator))
