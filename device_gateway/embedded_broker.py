"""An in-process MQTT broker (amqtt) for the all-in-one demo and for tests without Mosquitto."""
import asyncio
import logging
import socket
import threading
from collections.abc import Callable, Mapping
from typing import Any

from amqtt.broker import Broker
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
        self._may_receive = policy.may_receive if policy is not None else None
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
            self._broker = VettingBroker(config, loop=self._loop, may_receive=self._may_receive)
            self._loop.run_until_complete(self._broker.start())
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.close()


class VettingBroker(Broker):
    """amqtt's Broker, but every message it sends to a client is vetted at the moment it is sent.

    amqtt checks a subscriber's right to receive once, when it picks the subscriber, and then awaits
    before delivering: a client that resumes another's persistent session in that gap took over a
    message vetted for the previous holder. It also sends retained messages without asking the
    plugins at all. Every send goes through `_get_handler(...).mqtt_publish`, so that is where we ask.
    """

    def __init__(self, config: dict[str, Any], *, loop: asyncio.AbstractEventLoop,
                 may_receive: Callable[[str | None, str], bool] | None = None):
        super().__init__(config, loop=loop)
        self._may_receive = may_receive

    async def _publish_retained_messages_for_subscription(self, subscription: tuple[str, int],
                                                          session: Session) -> None:
        # On connect amqtt 0.12 replays retained messages for every filter anyone subscribed to, to whoever
        # connects; only the filters this session subscribed to are its business.
        topic_filter, _ = subscription
        if any(subscriber is session for subscriber, _ in self._subscriptions.get(topic_filter, [])):
            await super()._publish_retained_messages_for_subscription(subscription, session)

    def _get_handler(self, session: Session) -> Any:
        handler = super()._get_handler(session)
        if handler is None or self._may_receive is None:
            return handler
        return _VettedSender(handler, self._may_receive)


class _VettedSender:
    """A protocol handler whose `mqtt_publish` drops what its session's current user may not receive."""

    def __init__(self, handler: Any, may_receive: Callable[[str | None, str], bool]):
        self._handler = handler
        self._may_receive = may_receive

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handler, name)

    async def mqtt_publish(self, topic: str, data: bytes, qos: int | None, retain: bool, **options: Any) -> Any:
        # No await between this check and amqtt storing the message as in flight for this session.
        username = self._handler.session.username if self._handler.session else None
        if not self._may_receive(username, topic):
            log.info("not delivering %s to %s: not permitted", topic, username)
            return None
        return await self._handler.mqtt_publish(topic, data, qos, retain, **options)


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
