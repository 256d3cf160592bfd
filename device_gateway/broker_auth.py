"""amqtt plugins that make the embedded broker enforce the rules of the generated Mosquitto files."""
import asyncio
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from amqtt.contexts import Action
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin
from amqtt.session import Session

from device_gateway.broker_config import AccessPolicy

PasswordCheck = Callable[[str, str], bool]


def check_against(credentials: Mapping[str, str]) -> PasswordCheck:
    """A PasswordCheck over a username → password mapping."""
    def check(username: str, password: str) -> bool:
        expected = credentials.get(username)
        return expected is not None and hmac.compare_digest(expected.encode(), password.encode())
    return check


class PasswordAuthPlugin(BaseAuthPlugin):
    """Admits a client only with a known username and its password; anonymous clients are refused."""

    @dataclass
    class Config:
        credentials: dict[str, str] = field(default_factory=dict)
        # Overrides `credentials`: (username, password) -> bool, run in a worker thread so it may query a database.
        check: Callable | None = None

    async def authenticate(self, *, session: Session) -> bool:
        if not session.username or session.password is None:
            return False
        if self.config.check is not None:
            return bool(await asyncio.to_thread(self.config.check, session.username, session.password))
        return check_against(self.config.credentials)(session.username, session.password)


class TopicAclPlugin(BaseTopicPlugin, BaseAuthPlugin):
    """Applies an AccessPolicy to publish, subscribe and delivery, and to the last will."""

    @dataclass
    class Config:
        policy: AccessPolicy

    async def topic_filtering(self, *, session: Session | None = None, topic: str | None = None,
                              action: Action | None = None) -> bool:
        username = session.username if session else None
        if not topic:
            return False
        match action:
            case Action.PUBLISH:
                return self.config.policy.may_publish(username, topic)
            case Action.SUBSCRIBE:
                return self.config.policy.may_subscribe(username, topic)
            case Action.RECEIVE:
                return self.config.policy.may_receive(username, topic)
        return False

    async def authenticate(self, *, session: Session) -> None:
        # Not a credentials check (None is ignored): the connect is where amqtt lets us vet what it would
        # otherwise send unchecked. Like Mosquitto, a forbidden will is dropped rather than refused.
        policy, username = self.config.policy, session.username
        if session.will_flag and not policy.may_publish(username, session.will_topic or ""):
            self.context.logger.info(f"dropping will of {session.client_id} on {session.will_topic}: not permitted")
            session.will_flag = False
        _keep_only_readable(session, lambda topic: policy.may_receive(username, topic))
        return None


def _keep_only_readable(session: Session, may_receive: Callable[[str], bool]) -> None:
    """A resumed session's messages in flight were vetted for whoever held the client id before; vet them again.

    amqtt resends these directly on connect; its queued messages go through `VettingBroker`'s check instead.
    """
    for packet_id, message in list(session.inflight_out.items()):
        if not may_receive(message.topic):
            del session.inflight_out[packet_id]
