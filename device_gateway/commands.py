"""Relay orders out to meters: encoded as protocol v1 commands, QoS 1, never retained."""
import logging

import paho.mqtt.client as mqtt

from backend.meters.orders import RelayOrder
from device_gateway.protocol import Command, Topics, encode, timestamp

log = logging.getLogger(__name__)


def command_for(order: RelayOrder) -> Command:
    return Command(cmd_id=order.cmd_id, action=order.action, ch=order.channel, session_id=order.session_id,
                   energy_limit_wh=order.energy_limit_wh, deadline=timestamp(order.deadline))


class MqttOrderSink:
    """Publishes relay orders on an already connected paho client."""

    def __init__(self, client: mqtt.Client, topics: Topics):
        self._client = client
        self._topics = topics

    def send(self, order: RelayOrder) -> None:
        topic = self._topics.command(order.meter_serial)
        info = self._client.publish(topic, encode(command_for(order)), qos=1, retain=False)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            log.error("command %s to %s not queued: %s", order.cmd_id, topic, mqtt.error_string(info.rc))
