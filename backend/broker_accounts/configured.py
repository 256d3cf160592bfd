"""The broker-accounts implementation the settings choose, and the rules every account gets."""
from urllib.parse import urlsplit

from backend.broker_accounts.dynsec import DynsecAccounts
from backend.broker_accounts.interface import BrokerAccounts
from backend.core.config import Settings
from device_gateway.broker_config import AccessPolicy
from device_gateway.broker_url import BrokerAddress


def live_accounts(settings: Settings) -> BrokerAccounts | None:
    """What the platform pushes accounts to; None when nothing is live (`files`, and `http`: the broker asks)."""
    if settings.broker_accounts != "dynsec":
        return None
    parts = urlsplit(settings.mqtt_url)
    admin = BrokerAddress(parts.hostname or "127.0.0.1", parts.port or 1883, settings.mqtt_admin_username,
                          settings.mqtt_admin_password)
    return DynsecAccounts(admin, settings.broker_accounts_timeout_seconds)


def device_policy(settings: Settings) -> AccessPolicy:
    """Meters' and DTUs' rights need no platform users: each gets its own topics only."""
    return AccessPolicy(settings.mqtt_topic_prefix)
