"""The one place where settings come from: environment variables, then defaults.

README.md ("Every setting") lists each field; a test fails when one is missing there.
"""
import secrets
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from backend.core.placeholders import placeholder_problems

VAR_DIR = Path("var")


class Environment(StrEnum):
    development = "development"  # the demo defaults are fine: `make run`, tests
    production = "production"  # secrets must be real, or nothing starts


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    environment: Environment = Environment.development
    database_url: str = Field(default=f"sqlite:///{VAR_DIR}/scanpower.db")
    # Empty means "start the embedded broker" for `scanpower run`; standalone parts need it.
    mqtt_url: str = ""
    mqtt_topic_prefix: str = "scanpower/v1"
    gateway_client_id: str = "scanpower-gateway"
    # Platform accounts written by `scanpower broker-config`; each process's MQTT_URL carries its own.
    mqtt_gateway_username: str = "scanpower-gateway"
    mqtt_gateway_password: str = ""
    mqtt_api_username: str = "scanpower-api"
    mqtt_api_password: str = ""
    gateway_share_group: str = ""
    # What one meter may send before the gateway drops the excess; unset: protocol v1's figures (docs/protocol.md).
    gateway_meter_rate_per_s: float | None = Field(default=None, gt=0)
    gateway_meter_burst: int | None = Field(default=None, ge=1)
    # A flooding meter's alarm closes after this long within its limit.
    gateway_flood_calm_seconds: float = Field(default=60.0, gt=0)
    # Telemetry is stored by the batch, in this many lanes (each meter always in the same one).
    gateway_telemetry_workers: int = Field(default=4, ge=1, le=64)
    gateway_batch_max: int = Field(default=500, ge=1, le=10_000)
    gateway_batch_wait_ms: float = Field(default=5.0, ge=0, le=1000)
    public_base_url: str = "http://127.0.0.1:8000"
    # What a meter's installer configures as the broker (e.g. mqtts://iot.example.cn:8883); default: MQTT_URL's host.
    meter_broker_url: str = ""
    # The service number printed on the outlet page and the receipts (95598: the grid's customer service).
    service_phone: str = "95598"
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    secret_key: str = ""
    access_token_minutes: int = 60 * 24
    # Sign-in throttling (docs/security.md, "Sign-in and cookies"): failed sign-ins counted in the
    # database per phone number and per client address; the limit reached locks that key out for a while.
    sign_in_failures_per_phone: int = Field(default=5, ge=1)
    sign_in_failures_per_client: int = Field(default=30, ge=1)
    sign_in_window_minutes: int = Field(default=15, ge=1)
    sign_in_lockout_minutes: int = Field(default=15, ge=1)
    sign_ups_per_client: int = Field(default=20, ge=1)  # per sign-up window, successful or not
    sign_up_window_minutes: int = Field(default=60, ge=1)
    # Reverse proxies (comma-separated addresses or networks, "*" for any) whose X-Forwarded-For and
    # X-Forwarded-Proto are believed; empty believes no one, so a client cannot fake its address or https.
    trusted_proxies: str = ""
    min_start_balance: Decimal = Decimal("1.00")
    command_timeout_seconds: int = 30
    # A stop the meter has not confirmed after this long is settled from its last reading (provisionally).
    unconfirmed_stop_settle_minutes: int = 30
    log_level: str = "INFO"
    # JSON lines (for a log collector) or text (for a person at a terminal); unset: JSON in production.
    log_format: str = Field(default="", pattern=r"^(|json|text)$")
    # A port for /metrics, /healthz and /readyz in the gateway and the scheduler (the API serves them on its
    # own port); 0: none.
    metrics_port: int = Field(default=0, ge=0, le=65535)
    # uvicorn worker processes of `scanpower api`; with more than one, metrics are shared through
    # PROMETHEUS_MULTIPROC_DIR (made in a temporary folder when unset).
    api_workers: int = Field(default=1, ge=1, le=64)
    # Scheduled work (docs/operations.md): a meter not heard from for this long is marked offline with an alarm
    # (it reports every 15 s, and last_seen is written every 30 s).
    meter_silent_after_seconds: int = Field(default=180, ge=60)
    # A session running this long is stopped through the normal stop path (no zombie sessions).
    session_max_hours: float = Field(default=24.0, gt=0, le=24 * 31)
    # Applicants are told this many days before their point's validity ends.
    season_notice_days: int = Field(default=14, ge=1, le=90)
    # Card payments: with no secret key the demo provider (which moves no money) is used.
    stripe_secret_key: str = ""
    stripe_webhook_secret: str = ""
    stripe_api_base: str = ""  # only to point the SDK at a Stripe-compatible test server
    stripe_currency: str = "cny"
    # WeChat Pay v3 (docs/payments.md#wechat-pay): on when WECHATPAY_MCHID is set. The merchant's API key
    # and certificate serial sign requests; the platform certificates (a directory the SDK downloads them
    # into) or the platform public key and its id (微信支付公钥) verify answers and notifications.
    wechatpay_mchid: str = ""
    wechatpay_appid: str = ""
    wechatpay_apiv3_key: str = ""
    wechatpay_private_key_path: str = ""
    wechatpay_cert_serial_no: str = ""
    wechatpay_platform_cert_dir: str = ""
    wechatpay_public_key_path: str = ""
    wechatpay_public_key_id: str = ""
    wechatpay_notify_url: str = ""  # empty: {PUBLIC_BASE_URL}/api/v1/webhooks/wechat
    wechatpay_payscore_service_id: str = ""  # 微信支付分 service id; empty: sessions are paid ahead instead
    wechatpay_api_base: str = ""  # only to point the SDK at a test server
    # Alipay (docs/payments.md#alipay): on when ALIPAY_APP_ID is set. RSA2 keys in PEM files.
    alipay_app_id: str = ""
    alipay_app_private_key_path: str = ""
    alipay_public_key_path: str = ""
    alipay_notify_url: str = ""  # empty: {PUBLIC_BASE_URL}/api/v1/webhooks/alipay
    alipay_return_url: str = ""  # where the pay page sends the phone back; empty: {PUBLIC_BASE_URL}/me
    alipay_preauth: bool = False  # the merchant signed 资金预授权: sessions are held, not paid ahead
    alipay_gateway: str = ""  # empty: Alipay's production gateway; else a sandbox or test server

    @model_validator(mode="after")
    def _real_secrets_in_production(self):
        if self.environment == Environment.production and (problems := placeholder_problems(self)):
            raise ValueError("ENVIRONMENT=production refuses to start with placeholder settings: "
                             + "; ".join(problems))
        return self

    @property
    def logs_as_json(self) -> bool:
        return self.log_format == "json" or (not self.log_format and self.environment == Environment.production)

    def jwt_secret(self) -> str:
        """The signing secret; generated once per data directory when none is configured."""
        if self.secret_key:
            return self.secret_key
        path = VAR_DIR / "secret.key"
        if not path.exists():
            VAR_DIR.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
        return path.read_text().strip()


@lru_cache
def get_settings() -> Settings:
    return Settings()
