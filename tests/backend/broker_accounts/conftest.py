"""A dynamic-security Mosquitto per test, and settings that make the platform provision accounts on it."""
import pytest

from backend.core.config import Settings
from tests.backend.broker_accounts.dynsec_broker import DynsecBroker, new_dynsec_broker


@pytest.fixture
def dynsec(settings, tmp_path) -> DynsecBroker:
    broker = new_dynsec_broker(tmp_path, settings.mqtt_topic_prefix).start()
    yield broker
    broker.stop()


@pytest.fixture
def live_settings(settings, dynsec) -> Settings:
    """The test's settings, with BROKER_ACCOUNTS=dynsec on that broker (commands still go to the test broker)."""
    return settings.model_copy(update={"broker_accounts": "dynsec", "mqtt_admin_username": "admin",
                                       "mqtt_admin_password": dynsec.admin_password,
                                       "broker_accounts_timeout_seconds": 3.0,
                                       "mqtt_url": f"mqtt://127.0.0.1:{dynsec.port}"})
