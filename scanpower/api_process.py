"""The app of one `scanpower api` worker: its own engine and command publisher (uvicorn calls `create`)."""
import secrets

from fastapi import FastAPI

from backend.app import create_app
from backend.core.config import get_settings
from backend.core.db import make_engine
from backend.core.json_logs import configure as configure_logs
from device_gateway.broker_url import BrokerAddress
from device_gateway.commands import MqttOrderSink
from device_gateway.connection import PublishOnlyClient
from device_gateway.protocol import Topics


def create() -> FastAPI:
    settings = get_settings()
    configure_logs(settings.log_level, settings.logs_as_json)  # a spawned worker starts with no logging set up
    publisher = PublishOnlyClient(BrokerAddress.parse(settings.mqtt_url), f"scanpower-api-{secrets.token_hex(3)}")
    sink = MqttOrderSink(publisher.client, Topics(settings.mqtt_topic_prefix))
    app = create_app(settings, make_engine(settings.database_url), sink, publisher.client.is_connected)
    app.router.on_shutdown.append(publisher.close)
    return app
