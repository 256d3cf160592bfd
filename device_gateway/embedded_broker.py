"""An in-process MQTT broker (amqtt) for the all-in-one demo and for tests without Mosquitto."""
import asyncio
import logging
import socket
import threading
from collections.abc import Callable, Mapping
from typing import Any

from amqtt.broker import Broker
from amqtt.contexts import Action
from amqtt.session import Session

from device_gateway.broker_config import AccessPolicy

log = logging.getLogger(__name__)


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
            return True
        except OSError:
            return False


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


class EmbeddedBroker:
    """Runs amqtt on its own event loop thread; `start()` returns once it listens.

    Open to anonymous clients on every topic unless given `credentials` (username → password, or a
    `(username, password) -> bool` check) and a `policy`: then it enforces the same rules as the
    Mosquitto files `scanpower broker-config` writes (see docs/security.md).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 1883, *,
                 credentials: Mapping[str, str] | Callable[[str, str], bool] | None = None,
                 policy: AccessPolicy | None = None):
        self.host = host
        self.port = port
        self._plugins = broker_plugins(credentials, policy)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="embedded-broker", daemon=True)
        self._ready = threading.Event()
        self._broker: Broker | None = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def start(self, timeout: float = 10) -> None:
        self._thread.start()
        if not self._ready.wait(timeout) or self._error:
            raise RuntimeError(f"embedded MQTT broker did not start on {self.url}: {self._error}")

    def stop(self) -> None:
        if self._broker is not None:
            future = asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop)
            try:
                future.result(10)
            except Exception:  # a broker that cannot shut down cleanly is still stopped below
                log.exception("embedded broker shutdown failed")
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        config = {"listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
                  "plugins": self._plugins}
        try:
            self._broker = VettingBroker(config, loop=self._loop)
            self._loop.run_until_complete(self._broker.start())
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.close()


class VettingBroker(Broker):
    """amqtt's Broker, but retained messages go only to clients the topic plugins let receive them.

    amqtt 0.12 sends retained messages without asking the plugins, and on every connect replays them
    for every client's subscriptions, so a meter would get all other meters' retained status.
    """

    async def _publish_retained_messages_for_subscription(self, subscription: tuple[str, int],
                                                          session: Session) -> None:
        topic_filter, qos = subscription
        handler = self._get_handler(session)
        sends = [handler.mqtt_publish(retained.topic, retained.data, min(qos, retained.qos or qos), retain=True)
                 for topic, retained in list(self._retained_messages.items())
                 if handler and self._matches(topic, topic_filter)
                 and await self._topic_filtering(session, topic, Action.RECEIVE)]
        await asyncio.gather(*sends)


def broker_plugins(credentials: Mapping[str, str] | Callable[[str, str], bool] | None,
                   policy: AccessPolicy | None) -> dict[str, dict[str, Any]]:
    """amqtt's `plugins` section: anonymous and unrestricted unless credentials and/or a policy are given."""
    plugins: dict[str, dict[str, Any]] = {}
    if credentials is None:
        plugins["amqtt.plugins.authentication.AnonymousAuthPlugin"] = {"allow_anonymous": True}
    elif callable(credentials):
        plugins["device_gateway.broker_auth.PasswordAuthPlugin"] = {"check": credentials}
    else:
        plugins["device_gateway.broker_auth.PasswordAuthPlugin"] = {"credentials": dict(credentials)}
    if policy is not None:
        plugins["device_gateway.broker_auth.TopicAclPlugin"] = {"policy": policy}
    return plugins
