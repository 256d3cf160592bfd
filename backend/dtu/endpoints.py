"""Commissioning DL/T 645 meters behind a DTU (operators)."""
from fastapi import APIRouter

from backend.core.api_errors import WITH_ROLE, ApiRoute, refusals
from backend.deps import Id, Operator, SessionDep, SettingsDep
from backend.dtu import service
from backend.points.service import get_meter
from backend.dtu.models import ChannelLinkPublic, DtuCommission, DtuLink, DtuLinkPublic
from device_gateway.dlt645 import dtu_packets
from device_gateway.protocol import Topics

router = APIRouter(tags=["meters"], route_class=ApiRoute)


@router.put("/points/{point_id}/meter/dtu", response_model=DtuLinkPublic,
            responses=refusals(*WITH_ROLE, service.NoDtuLink, service.DtuTaken, service.MeterInUse,
                               service.NoSuchOutlet))
def commission_dtu(point_id: Id, body: DtuCommission, db: SessionDep, operator: Operator,
                   settings: SettingsDep) -> DtuLinkPublic:
    """Commission the point's meter as DL/T 645-2007 meters behind a DTU: the DTU's id and each outlet's address."""
    link = service.commission(db, point_id, body, operator)
    return link_public(db, link, settings.mqtt_topic_prefix)


@router.get("/points/{point_id}/meter/dtu", response_model=DtuLinkPublic,
            responses=refusals(*WITH_ROLE, service.NoDtuLink))
def read_dtu(point_id: Id, db: SessionDep, _: Operator, settings: SettingsDep) -> DtuLinkPublic:
    """What the installer configures on the point's DTU, and which meter address serves each outlet (operators)."""
    return link_public(db, service.link_of_point(db, point_id), settings.mqtt_topic_prefix)


def link_public(db, link: DtuLink, prefix: str) -> DtuLinkPublic:
    topics = Topics(prefix)
    return DtuLinkPublic(meter_serial=get_meter(db, link.meter_id).serial, dtu_id=link.dtu_id,
                         mqtt_client_id=link.dtu_id, mqtt_username=link.dtu_id, mqtt_password=link.mqtt_password,
                         topic_up=topics.dtu(link.dtu_id, "up"), topic_down=topics.dtu(link.dtu_id, "down"),
                         registration_packet=dtu_packets.registration(link.dtu_id).decode(),
                         heartbeat_packet=dtu_packets.heartbeat(link.dtu_id).decode(),
                         channels=[ChannelLinkPublic(channel=c.channel, address=c.address,
                                                     password_level=c.password[:2])
                                   for c in service.channels_of(db, link.meter_id)])
