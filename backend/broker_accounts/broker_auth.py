"""The answers an HTTP-authenticating broker (EMQX, VerneMQ, mosquitto-go-auth) asks for: may this client log in,
may it publish or subscribe to this topic. Accounts are read from the database as the live accounts would have
them (desired.py) and kept for a few seconds; a change committed in this process forgets them at once."""
import hmac
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from sqlalchemy.engine import Engine
from sqlmodel import Session

from backend.broker_accounts import wake
from backend.broker_accounts.desired import desired
from backend.broker_accounts.models import AccountKind
from backend.core.config import Settings
from device_gateway.broker_config import AccessPolicy, PlatformRole, PlatformUser

Action = Literal["publish", "subscribe"]


def platform_users(settings: Settings) -> list[PlatformUser]:
    """The platform's own accounts, with the passwords set for them (an unset one cannot log in)."""
    users = [(settings.mqtt_gateway_username, settings.mqtt_gateway_password, PlatformRole.gateway),
             (settings.mqtt_api_username, settings.mqtt_api_password, PlatformRole.publisher),
             (settings.mqtt_dlt645_username, settings.mqtt_dlt645_password, PlatformRole.dlt645)]
    return [PlatformUser(name, password, role) for name, password, role in users if password]


@dataclass(frozen=True)
class _Known:
    password: str | None  # None: no such account (or no longer)
    until: float


class BrokerAuth:
    def __init__(self, engine: Engine, settings: Settings, clock: Callable[[], float] = time.monotonic):
        self.engine, self.clock = engine, clock
        self.ttl = settings.broker_auth_cache_seconds
        users = platform_users(settings)
        self.platform = {u.username: u.password for u in users}
        self.policy = AccessPolicy.for_platform(settings.mqtt_topic_prefix, users)
        self.device_policy = AccessPolicy(settings.mqtt_topic_prefix)
        self._cache: dict[str, _Known] = {}
        self._lock = threading.Lock()
        self.forget_on_commit = wake.listen(self.forget)

    def authenticate(self, username: str, password: str) -> bool:
        expected = self._password(username)
        return expected is not None and hmac.compare_digest(expected.encode(), password.encode())

    def authorize(self, username: str, topic: str, action: Action) -> bool:
        if self._password(username) is None:
            return False  # a closed point's meter loses its rights with its account
        if action == "publish":
            return self.policy.may_publish(username, topic)
        return self.policy.may_subscribe(username, topic)

    def forget(self) -> None:
        with self._lock:
            self._cache.clear()

    def _password(self, username: str) -> str | None:
        if username in self.platform:
            return self.platform[username]
        now = self.clock()
        with self._lock:
            known = self._cache.get(username)
        if known is None or known.until <= now:
            known = _Known(self._read(username), now + self.ttl)
            with self._lock:
                self._cache[username] = known
        return known.password

    def _read(self, username: str) -> str | None:
        with Session(self.engine) as db:
            for kind in (AccountKind.meter, AccountKind.dtu):
                account = desired(db, kind, username, self.device_policy).account
                if account is not None:
                    return account.password
        return None
