"""Commissioning DL/T 645 meters behind a DTU (operators)."""
from fastapi import APIRouter

from backend.core.api_errors import WITH_ROLE, ApiRoute, refusals
from backend.deps import Id, Operator, SessionDep, SettingsDep
from backend.dtu import service
from backend.dtu.models import DtuCommission, DtuLinkPublic
from backend.dtu.views import link_public

router = APIRouter(tags=["meters"], route_class=ApiRoute)


@router.put("/points/{point_id}/meter/dtu", response_model=DtuLinkPublic,
            responses=refusals(*WITH_ROLE, service.NoDtuLink, service.DtuTaken, service.MeterInUse,
                               service.NoSuchOutlet))
def commission_dtu(point_id: Id, body: DtuCommission, db: SessionDep, operator: Operator,
                   settings: SettingsDep) -> DtuLinkPublic:
    """Commission the point's meter as DL/T 645-2007 meters behind a DTU: the DTU's id and each outlet's address.

    With live broker accounts the DTU can log in once this commits, and a DTU it replaces no longer can."""
    link = service.commission(db, point_id, body, operator)
    return link_public(db, link, settings.mqtt_topic_prefix)


@router.get("/points/{point_id}/meter/dtu", response_model=DtuLinkPublic,
            responses=refusals(*WITH_ROLE, service.NoDtuLink))
def read_dtu(point_id: Id, db: SessionDep, _: Operator, settings: SettingsDep) -> DtuLinkPublic:
    """What the installer configures on the point's DTU, and which meter address serves each outlet (operators)."""
    return link_public(db, service.link_of_point(db, point_id), settings.mqtt_topic_prefix)
