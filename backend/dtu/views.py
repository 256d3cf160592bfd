"""A DTU link as an installer reads it: what to configure on the DTU, and which address serves each outlet."""
from sqlmodel import Session

from backend.dtu import service
from backend.dtu.models import ChannelLinkPublic, DtuLink, DtuLinkPublic
from backend.points.service import get_meter
from device_gateway.dlt645 import dtu_packets
from device_gateway.protocol import Topics


def link_public(db: Session, link: DtuLink, prefix: str) -> DtuLinkPublic:
    topics = Topics(prefix)
    return DtuLinkPublic(meter_serial=get_meter(db, link.meter_id).serial, dtu_id=link.dtu_id,
                         mqtt_client_id=link.dtu_id, mqtt_username=link.dtu_id, mqtt_password=link.mqtt_password,
                         topic_up=topics.dtu(link.dtu_id, "up"), topic_down=topics.dtu(link.dtu_id, "down"),
                         registration_packet=dtu_packets.registration(link.dtu_id).decode(),
                         heartbeat_packet=dtu_packets.heartbeat(link.dtu_id).decode(),
                         channels=[ChannelLinkPublic(channel=c.channel, address=c.address,
                                                     password_level=c.password[:2])
                                   for c in service.channels_of(db, link.meter_id)])
