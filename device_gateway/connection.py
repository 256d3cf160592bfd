"""Build and connect paho clients the same way everywhere."""
import socket
import threading

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from device_gateway.broker_url import BrokerAddress


def new_client(broker: BrokerAddress, client_id: str, clean_session: bool = True,
               manual_ack: bool = False) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean_session,
                         manual_ack=manual_ack)
    if broker.username:
        client.username_pw_set(broker.username, broker.password)
    client.reconnect_delay_set(min_delay=1, max_delay=10)
    client.on_socket_open = lambda client, userdata, sock: send_at_once(sock)
    return client


def send_at_once(sock) -> None:
    """TCP_NODELAY: paho leaves Nagle's algorithm on, which holds a command or an ack back ~40 ms behind the
    previous small packet's delayed ACK."""
    raw = getattr(sock, "socket", sock)  # paho may wrap it (TLS, websockets)
    try:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError):
        pass  # not a TCP socket (a unix socket, a test double)


class PublishOnlyClient:
    """A connected client for processes that only send commands (a standalone API)."""

    def __init__(self, broker: BrokerAddress, client_id: str):
        self.client = new_client(broker, client_id)
        self._connected = threading.Event()
        self.client.on_connect = lambda *_: self._connected.set()
        self.client.connect_async(broker.host, broker.port, keepalive=30)
        self.client.loop_start()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
