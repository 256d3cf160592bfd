"""Relay orders out to meters: encoded as protocol v1 commands, QoS 1, never retained."""
import logging

import paho.mqtt.client as mqtt

from backend.meters.orders import LimitsOrder, Order
from device_gateway.protocol import Command, Configure, OutletLimit, Topics, encode, timestamp

log = logging.getLogger(__name__)


def command_for(order: Order) -> Command | Configure:
    if isinstance(order, LimitsOrder):
        return Configure(cmd_id=order.cmd_id, action="configure", deadline=timestamp(order.deadline),
                         outlets=[OutletLimit(ch=ch, max_power_w=w) for ch, w in order.outlet_max_power_w],
                         max_total_power_w=order.max_total_power_w)
    return Command(cmd_id=order.cmd_id, action=order.action, ch=order.channel, session_id=order.session_id,
                   energy_limit_wh=order.energy_limit_wh, deadline=timestamp(order.deadline))


class MqttOrderSink:
    """Publishes relay orders on an already connected paho client."""

    def __init__(self, client: mqtt.Client, topics: Topics):
        self._client = client
        self._topics = topics

    def send(self, order: Order) -> None:
        topic = self._topics.command(order.meter_serial)
        info = self._client.publish(topic, encode(command_for(order)), qos=1, retain=False)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            log.error("command %s to %s not queued: %s", order.cmd_id, topic, mqtt.error_string(info.rc))
