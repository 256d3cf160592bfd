"""One simulated meter's MQTT connection: status, last will, commands in, messages out."""
import logging
import socket
import threading
from collections.abc import Callable
from typing import Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from device_gateway.broker_url import BrokerAddress
from device_gateway.protocol import (
    UPLINK_MODELS,
    BadMessage,
    Command,
    Message,
    Status,
    Topics,
    decode_command,
    encode,
)

log = logging.getLogger(__name__)

QOS = 1
KEEPALIVE_S = 30
_KIND_OF = {model: kind for kind, model in UPLINK_MODELS.items()}

StatusOf = Callable[[Literal["online", "offline"]], Status]
CommandSink = Callable[[str, Command], None]


class MeterLink:
    """A paho client named after the meter's serial; callbacks only hand work on, never block."""

    def __init__(
        self,
        serial: str,
        broker: BrokerAddress,
        topics: Topics,
        status_of: StatusOf,
        will: Status,
        on_command: CommandSink,
        password: str | None = None,
    ):
        self.serial = serial
        self.connected = threading.Event()  # set once subscribed, so commands can no longer be missed
        self._broker = broker
        self._topics = topics
        self._status_of = status_of
        self._on_command = on_command
        self._client = self._make_client(will, password)

    def start(self) -> None:
        self._client.connect_async(self._broker.host, self._broker.port, keepalive=KEEPALIVE_S)
        self._client.loop_start()

    def publish(self, message: Message) -> mqtt.MQTTMessageInfo:
        """Queue a message; QoS 1 messages wait in paho while offline and go out on reconnect."""
        kind = _KIND_OF[type(message)]
        retain = kind == "status"
        return self._client.publish(self._topics.meter(self.serial, kind), encode(message), QOS, retain)

    def say_offline(self) -> mqtt.MQTTMessageInfo | None:
        """Publish the retained offline status, since a clean disconnect never fires the will."""
        if not self.connected.is_set():
            return None
        return self.publish(self._status_of("offline"))

    def drop_connection(self) -> None:
        """Lose the network like a rural 4G modem: no DISCONNECT, so the broker sends the will."""
        sock = self._client.socket()
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def _make_client(self, will: Status, password: str | None) -> mqtt.Client:
        # A persistent session lets the broker hold commands sent during a short drop-out.
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.serial, clean_session=False)
        username, password = self._credentials(password)
        if username:
            client.username_pw_set(username, password)
        client.will_set(self._topics.meter(self.serial, "status"), encode(will), QOS, retain=True)
        client.reconnect_delay_set(min_delay=1, max_delay=60)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.message_callback_add(self._topics.command(self.serial), self._on_command_message)
        client.on_message = self._on_other_message
        return client

    def _credentials(self, password: str | None) -> tuple[str | None, str | None]:
        """A meter with its own password logs in as its serial, otherwise with the broker URL's user."""
        if password:
            return self.serial, password
        return self._broker.username, self._broker.password

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.warning("meter %s: broker refused the connection: %s", self.serial, reason_code)
            return
        client.subscribe(self._topics.command(self.serial), QOS)
        self.publish(self._status_of("online"))

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        if any(code.is_failure for code in reason_codes):
            log.warning("meter %s: broker refused the command subscription: %s", self.serial, reason_codes)
            return
        self.connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        if reason_code.is_failure:
            log.info("meter %s: disconnected: %s", self.serial, reason_code)

    def _on_other_message(self, client, userdata, msg: mqtt.MQTTMessage) -> None:
        # Some brokers (amqtt 0.12) push retained messages of other clients' subscriptions on connect.
        log.debug("meter %s: ignored a message on %s", self.serial, msg.topic)

    def _on_command_message(self, client, userdata, msg: mqtt.MQTTMessage) -> None:
        try:
            command = decode_command(msg.payload)
        except BadMessage as exc:
            log.warning("meter %s: ignored a bad command on %s: %s", self.serial, msg.topic, exc)
            return
        self._on_command(self.serial, command)


def published(info: mqtt.MQTTMessageInfo | None) -> bool:
    """Whether a publish was accepted by paho, so waiting on it makes sense."""
    return info is not None and info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS
