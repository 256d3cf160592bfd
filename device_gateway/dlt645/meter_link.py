"""The bridge's MQTT connection as one platform meter: its client id, user name, password and last will."""
import logging
import threading
from collections.abc import Callable

import paho.mqtt.client as mqtt

from device_gateway.broker_url import BrokerAddress
from device_gateway.connection import new_client
from device_gateway.protocol import BadMessage, Command, Configure, Message, Status, Topics, decode_command, encode

log = logging.getLogger(__name__)

QOS = 1
KEEPALIVE_S = 30
KIND_OF = {"Telemetry": "telemetry", "Ack": "ack", "SessionEnded": "event", "Status": "status"}


class MeterConnection:
    """Speaks protocol v1 as the meter `serial`: a persistent session, the will `offline`, commands to `on_command`.

    paho keeps QoS 1 messages published while the connection is down and sends them after it reconnects.
    """

    def __init__(self, broker: BrokerAddress, topics: Topics, serial: str, password: str,
                 on_command: Callable[[Command | Configure], None], status_now: Callable[[], Status]):
        self.serial = serial
        self.ready = threading.Event()
        self._topics = topics
        self._on_command = on_command
        self._status_now = status_now
        self._address = BrokerAddress(broker.host, broker.port, serial, password)
        address = self._address
        self.client = new_client(address, serial, clean_session=False)
        self.client.will_set(topics.meter(serial, "status"), encode(Status(state="offline")), QOS, retain=True)
        self.client.on_connect = self._connected
        self.client.on_subscribe = self._subscribed
        self.client.on_disconnect = lambda *_: self.ready.clear()
        self.client.message_callback_add(topics.command(serial), self._command)

    def start(self) -> None:
        self.client.connect_async(self._address.host, self._address.port, keepalive=KEEPALIVE_S)
        self.client.loop_start()

    def publish(self, message: Message) -> None:
        kind = KIND_OF[type(message).__name__]
        self.client.publish(self._topics.meter(self.serial, kind), encode(message), QOS, retain=kind == "status")

    def stop(self, say_offline: bool = True) -> None:
        """Disconnect; a clean disconnect sends no will, so say offline first."""
        if say_offline and self.ready.is_set():
            info = self.client.publish(self._topics.meter(self.serial, "status"), encode(Status(state="offline")),
                                       QOS, retain=True)
            info.wait_for_publish(5)
        self.client.disconnect()
        self.client.loop_stop()

    def _connected(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.warning("meter %s: the broker refused the bridge's connection: %s", self.serial, reason_code)
            return
        client.subscribe(self._topics.command(self.serial), QOS)

    def _subscribed(self, client, userdata, mid, reason_codes, properties) -> None:
        if any(code.is_failure for code in reason_codes):
            log.warning("meter %s: the broker refused the command subscription", self.serial)
            return
        self.publish(self._status_now())
        self.ready.set()

    def _command(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        try:
            command = decode_command(message.payload)
        except BadMessage as exc:
            log.warning("meter %s: ignored a bad command: %s", self.serial, exc)
            return
        self._on_command(command)
