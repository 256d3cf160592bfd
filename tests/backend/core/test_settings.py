"""Settings: every one listed in the README, and production refusing to start on placeholders."""
from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from backend.core import config
from backend.core.config import Settings
from backend.core.settings_table import markdown_table
from scanpower.cli import app

README = Path(__file__).resolve().parents[3] / "README.md"
REAL = dict(environment="production", secret_key="k" * 40, database_url="postgresql+psycopg://sp:Wq9-real@db/sp",
            mqtt_url="mqtt://scanpower-api:Rv7-real@broker:1883", public_base_url="https://power.example.cn")


def test_the_readme_lists_every_setting_as_settings_defines_it():
    assert markdown_table() in README.read_text(), "run `python -m backend.core.settings_table` into README.md"
    assert all(field.description for field in Settings.model_fields.values())


def test_production_starts_with_real_secrets():
    assert Settings(**REAL).environment == "production"
    assert Settings(**REAL, broker_accounts="dynsec", mqtt_admin_password="Zq8-real-admin").broker_accounts == "dynsec"
    assert Settings(**REAL, broker_accounts="http", broker_auth_secret="s" * 40).broker_accounts == "http"


@pytest.mark.parametrize("override, named", [
    ({"secret_key": ""}, "SECRET_KEY is empty"),
    ({"secret_key": "change-me-to-a-long-random-string"}, "SECRET_KEY is empty or a placeholder"),
    ({"secret_key": "short-but-real"}, "shorter than 32"),
    ({"database_url": "postgresql+psycopg://scanpower:scanpower@db/scanpower"}, "DATABASE_URL is a placeholder"),
    ({"mqtt_url": "mqtt://broker:1883"}, "MQTT_URL carries no user and password"),
    ({"mqtt_url": "mqtt://gw:change-me@broker:1883"}, "MQTT_URL is a placeholder"),
    ({"mqtt_url": ""}, "MQTT_URL is empty"),
    ({"stripe_secret_key": "changeme"}, "STRIPE_SECRET_KEY is a placeholder"),
    ({"mqtt_api_password": "password"}, "MQTT_API_PASSWORD is a placeholder"),
    ({"public_base_url": "http://127.0.0.1:8000"}, "PUBLIC_BASE_URL points at this machine"),
    ({"broker_accounts": "dynsec"}, "MQTT_ADMIN_PASSWORD is empty or a placeholder"),
    ({"broker_accounts": "dynsec", "mqtt_admin_password": "change-me-broker-admin-password"},
     "MQTT_ADMIN_PASSWORD is empty or a placeholder"),
    ({"broker_accounts": "http"}, "BROKER_AUTH_SECRET is empty or a placeholder"),
    ({"broker_accounts": "http", "broker_auth_secret": "a-real-but-short-secret"}, "BROKER_AUTH_SECRET is shorter"),
])
def test_production_refuses_each_placeholder_by_name(override, named):
    with pytest.raises(ValidationError, match=named):
        Settings(**REAL | override)


def test_development_accepts_the_demo_defaults():
    assert Settings().environment == "development" and not Settings().logs_as_json
    assert Settings(**REAL).logs_as_json


def test_a_command_refuses_to_start_with_a_clear_message(monkeypatch):
    config.get_settings.cache_clear()
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("SECRET_KEY", "change-me-to-a-long-random-string")
    try:
        result = CliRunner().invoke(app, ["migrate"])
    finally:
        config.get_settings.cache_clear()
    assert result.exit_code == 2
    assert "cannot start: ENVIRONMENT=production refuses" in result.output and "Value error" not in result.output
    assert "SECRET_KEY is empty or a placeholder" in result.output
