"""The one place where settings come from: environment variables, then defaults.

README.md ("Every setting") lists each field; a test fails when one is missing there.
"""
import secrets
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from backend.core.placeholders import placeholder_problems

VAR_DIR = Path("var")


class Environment(StrEnum):
    development = "development"  # the demo defaults are fine: `make run`, tests
    production = "production"  # secrets must be real, or nothing starts


BrokerAccountsMode = Literal["files", "dynsec", "http"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    environment: Environment = Field(default=Environment.development,
                                     description="`production` refuses placeholder secrets and demo addresses at "
                                                 "start-up (see below); `development` allows them")
    database_url: str = Field(default=f"sqlite:///{VAR_DIR}/scanpower.db",
                              description="SQLAlchemy URL of the database: PostgreSQL (`postgresql+psycopg://…`) in "
                                          "production, SQLite for the demo")
    # Empty means "start the embedded broker" for `scanpower run`; standalone parts need it.
    mqtt_url: str = Field(default="",
                          description="The broker, with this process's account: `mqtt://user:password@host:1883`; "
                                      "empty: `scanpower run` starts an embedded one")
    mqtt_topic_prefix: str = Field(default="scanpower/v1", description="Prefix of every MQTT topic (docs/protocol.md)")
    gateway_client_id: str = Field(default="scanpower-gateway",
                                   description="The gateway's MQTT client id; its persistent session keeps messages "
                                               "while it is away. One per gateway instance")
    # Platform accounts written by `scanpower broker-config`; each process's MQTT_URL carries its own.
    mqtt_gateway_username: str = Field(default="scanpower-gateway",
                                       description="The gateway's account in the files `scanpower broker-config` "
                                                   "writes")
    mqtt_gateway_password: str = Field(default="", description="Its password (needed by `scanpower broker-config`)")
    mqtt_api_username: str = Field(default="scanpower-api",
                                   description="The API's (command publisher's) account in those files")
    mqtt_api_password: str = Field(default="", description="Its password")
    gateway_share_group: str = Field(default="",
                                     description="A shared-subscription group: gateways with the same group share the"
                                                 " meters' messages")
    mqtt_dlt645_username: str = Field(default="scanpower-dlt645",
                                      description="The DL/T 645 bridge's account in those files (docs/dlt645.md)")
    mqtt_dlt645_password: str = Field(default="", description="Its password")
    # Meters' and DTUs' broker accounts (docs/security.md#live-accounts): `files` writes nothing live
    # (`scanpower broker-config` and a reload), `dynsec` provisions them on Mosquitto's dynamic-security plugin
    # as they change, `http` lets the broker ask the API (EMQX, VerneMQ, mosquitto-go-auth).
    broker_accounts: BrokerAccountsMode = Field(default="files",
                                                description="`files` (broker-config's files, nothing live), "
                                                            "`dynsec` (Mosquitto's dynamic-security plugin, changed "
                                                            "live) or `http` (the broker asks `/api/v1/broker-auth/…`)")
    mqtt_admin_username: str = Field(default="admin",
                                     description="The dynamic-security admin account the platform manages accounts "
                                                 "with (`BROKER_ACCOUNTS=dynsec`)")
    mqtt_admin_password: str = Field(default="", description="Its password")
    broker_accounts_timeout_seconds: float = Field(default=5.0, gt=0, le=60,
                                                   description="How long the platform waits for the plugin's answer "
                                                               "before it counts the broker unavailable and retries")
    broker_auth_secret: str = Field(default="",
                                    description="`BROKER_ACCOUNTS=http`: the shared secret the broker sends as "
                                                "`Authorization: Bearer …` to `/api/v1/broker-auth/…`")
    broker_auth_cache_seconds: float = Field(default=2.0, ge=0, le=60,
                                             description="How long `/api/v1/broker-auth/…` reuses what it read of an "
                                                         "account; a closed point is refused within this long")
    # What one meter may send before the gateway drops the excess; unset: protocol v1's figures (docs/protocol.md).
    gateway_meter_rate_per_s: float | None = Field(default=None, gt=0,
                                                   description="Messages per second one meter may send before the "
                                                               "excess is dropped; unset: protocol v1's 20")
    gateway_meter_burst: int | None = Field(default=None, ge=1,
                                            description="How many at once; unset: protocol v1's 100")
    # A flooding meter's alarm closes after this long within its limit.
    gateway_flood_calm_seconds: float = Field(default=60.0, gt=0,
                                              description="A flooding meter's alarm closes after this long within its"
                                                          " limit")
    # Telemetry is stored by the batch, in this many lanes (each meter always in the same one).
    gateway_telemetry_workers: int = Field(default=4, ge=1, le=64,
                                           description="Telemetry lanes (each meter always in the same one)")
    gateway_batch_max: int = Field(default=500, ge=1, le=10_000, description="Telemetry messages per transaction")
    gateway_batch_wait_ms: float = Field(default=5.0, ge=0, le=1000,
                                         description="How long a batch waits for more messages once its first has "
                                                     "come")
    # Readings are kept in monthly partitions on PostgreSQL (docs/operations.md, "Readings").
    reading_retention_months: int = Field(default=0, ge=0, le=600,
                                          description="Months of raw readings kept (this month counts); older "
                                                      "partitions nothing needs are dropped. 0: keep all")
    reading_partitions_ahead: int = Field(default=3, ge=1, le=24,
                                          description="Monthly reading partitions made ahead of this month")
    # The DL/T 645 bridge (docs/dlt645.md): how fast it polls a bus, how long it waits for a meter, how often it
    # asks again, how fast it polls when no session runs, and when a DTU that says nothing counts as offline.
    dlt645_poll_seconds: Decimal = Field(default=Decimal("2"), gt=0, le=60,
                                         description="How often the bridge reads a meter with a session running")
    dlt645_timeout_seconds: Decimal = Field(default=Decimal("2.5"), gt=0, le=30,
                                            description="How long the bridge waits for a meter's reply on the bus")
    dlt645_retries: int = Field(default=2, ge=0, le=10, description="Retries of a request a meter did not answer")
    dlt645_idle_poll_seconds: float = Field(default=30.0, gt=0, le=3600,
                                            description="How often it reads a meter with no session running")
    dlt645_silent_after_seconds: float = Field(default=90.0, gt=0,
                                               description="A DTU silent this long is offline: alarm, no new starts")
    public_base_url: str = Field(default="http://127.0.0.1:8000",
                                 description="Where the QR codes point (`{PUBLIC_BASE_URL}/s/{token}`) and the site's"
                                             " origin for CSRF checks")
    # What a meter's installer configures as the broker (e.g. mqtts://iot.example.cn:8883); default: MQTT_URL's host.
    meter_broker_url: str = Field(default="",
                                  description="The broker a meter's installer configures (e.g. "
                                              "`mqtts://iot.example.cn:8883`); empty: MQTT_URL's host")
    # The service number printed on the outlet page and the receipts (95598: the grid's customer service).
    service_phone: str = Field(default="95598", description="The service number on the outlet page and receipts")
    http_host: str = Field(default="127.0.0.1",
                           description="Address the HTTP servers listen on (the API, and METRICS_PORT)")
    http_port: int = Field(default=8000, description="Port of the API and pages")
    secret_key: str = Field(default="",
                            description="Signs sign-in tokens; at least 32 characters in production (empty in "
                                        "development: one is generated in var/)")
    access_token_minutes: int = Field(default=60 * 24, description="How long a sign-in lasts")
    # Sign-in throttling (docs/security.md, "Sign-in and cookies"): failed sign-ins counted in the
    # database per phone number and per client address; the limit reached locks that key out for a while.
    sign_in_failures_per_phone: int = Field(default=5, ge=1,
                                            description="Failed sign-ins per phone number within the window before it"
                                                        " is locked out")
    sign_in_failures_per_client: int = Field(default=30, ge=1,
                                             description="Failed sign-ins per client address within the window before"
                                                         " it is locked out")
    sign_in_window_minutes: int = Field(default=15, ge=1, description="The window those failures are counted in")
    sign_in_lockout_minutes: int = Field(default=15, ge=1, description="How long a lock-out lasts")
    sign_ups_per_client: int = Field(default=20, ge=1,
                                     description="Sign-ups per client address per sign-up window")
    sign_up_window_minutes: int = Field(default=60, ge=1, description="The sign-up window")
    # Reverse proxies (comma-separated addresses or networks, "*" for any) whose X-Forwarded-For and
    # X-Forwarded-Proto are believed; empty believes no one, so a client cannot fake its address or https.
    trusted_proxies: str = Field(default="",
                                 description="Reverse proxies (addresses or networks, `*` for any) whose X-Forwarded-"
                                             "For and -Proto are believed; empty: none")
    min_start_balance: Decimal = Field(default=Decimal("1.00"),
                                       description="The least spendable money (yuan) a vendor needs to press Start")
    command_timeout_seconds: int = Field(default=30,
                                         description="How long the platform waits for a meter's ack before giving up "
                                                     "on a start (a stop is re-sent)")
    # A stop the meter has not confirmed after this long is settled from its last reading (provisionally).
    unconfirmed_stop_settle_minutes: int = Field(default=30,
                                                 description="A stop the meter has not confirmed after this long is "
                                                             "settled from its last reading, provisionally")
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR")
    # JSON lines (for a log collector) or text (for a person at a terminal); unset: JSON in production.
    log_format: str = Field(default="", pattern=r"^(|json|text)$",
                            description="`json` (one object per line, with request, session, meter and job ids) or "
                                        "`text`; empty: JSON in production")
    # A port for /metrics, /healthz and /readyz in the gateway and the scheduler (the API serves them on its
    # own port); 0: none.
    metrics_port: int = Field(default=0, ge=0, le=65535,
                              description="Port of `/metrics`, `/healthz` and `/readyz` in `scanpower gateway` and "
                                          "`scanpower scheduler`; 0: none")
    # uvicorn worker processes of `scanpower api`; with more than one, metrics are shared through
    # PROMETHEUS_MULTIPROC_DIR (made in a temporary folder when unset).
    api_workers: int = Field(default=1, ge=1, le=64,
                             description="uvicorn worker processes of `scanpower api`; with more than one, metrics "
                                         "are summed through PROMETHEUS_MULTIPROC_DIR")
    # Scheduled work (docs/operations.md): a meter not heard from for this long is marked offline with an alarm
    # (it reports every 15 s, and last_seen is written every 30 s).
    meter_silent_after_seconds: int = Field(default=180, ge=60,
                                            description="A meter of a live point not heard from for this long is "
                                                        "marked offline, with an alarm")
    # A session running this long is stopped through the normal stop path (no zombie sessions).
    session_max_hours: float = Field(default=24.0, gt=0, le=24 * 31,
                                     description="A session running this long is stopped by the scheduler through the"
                                                 " normal stop path")
    # Applicants are told this many days before their point's validity ends.
    season_notice_days: int = Field(default=14, ge=1, le=90,
                                    description="Applicants are told this many days before their point's validity "
                                                "ends")
    # Card payments: with no secret key the demo provider (which moves no money) is used.
    stripe_secret_key: str = Field(default="", description="Card payments through Stripe; empty: no Stripe")
    stripe_webhook_secret: str = Field(default="", description="Verifies Stripe's webhooks")
    stripe_api_base: str = Field(default="",
                                 description="Only to point the Stripe SDK at a compatible test server")
    stripe_currency: str = Field(default="cny", description="The currency of Stripe payments")
    # WeChat Pay v3 (docs/payments.md#wechat-pay): on when WECHATPAY_MCHID is set. The merchant's API key
    # and certificate serial sign requests; the platform certificates (a directory the SDK downloads them
    # into) or the platform public key and its id (微信支付公钥) verify answers and notifications.
    wechatpay_mchid: str = Field(default="",
                                 description="WeChat Pay merchant id; set: WeChat Pay is on (docs/payments.md)")
    wechatpay_appid: str = Field(default="", description="The app id payments are made for")
    wechatpay_apiv3_key: str = Field(default="", description="The API v3 key (decrypts notifications)")
    wechatpay_private_key_path: str = Field(default="", description="The merchant's private key (PEM file)")
    wechatpay_cert_serial_no: str = Field(default="", description="Serial number of the merchant's certificate")
    wechatpay_platform_cert_dir: str = Field(default="",
                                             description="Where the SDK keeps WeChat Pay's platform certificates")
    wechatpay_public_key_path: str = Field(default="",
                                           description="WeChat Pay's public key (微信支付公钥), instead of platform "
                                                       "certificates")
    wechatpay_public_key_id: str = Field(default="", description="Its id")
    wechatpay_notify_url: str = Field(default="",
                                      description="Where notifications go; empty: "
                                                  "`{PUBLIC_BASE_URL}/api/v1/webhooks/wechat`")
    wechatpay_payscore_service_id: str = Field(default="",
                                               description="微信支付分 service id; empty: sessions are paid "
                                                           "ahead instead of held")
    wechatpay_api_base: str = Field(default="",
                                    description="Only to point the SDK at a test server")
    # Alipay (docs/payments.md#alipay): on when ALIPAY_APP_ID is set. RSA2 keys in PEM files.
    alipay_app_id: str = Field(default="", description="Alipay app id; set: Alipay is on (docs/payments.md)")
    alipay_app_private_key_path: str = Field(default="", description="The app's RSA2 private key (PEM file)")
    alipay_public_key_path: str = Field(default="", description="Alipay's public key (PEM file)")
    alipay_notify_url: str = Field(default="",
                                   description="Where notifications go; empty: "
                                               "`{PUBLIC_BASE_URL}/api/v1/webhooks/alipay`")
    alipay_return_url: str = Field(default="",
                                   description="Where the pay page sends the phone back; empty: "
                                               "`{PUBLIC_BASE_URL}/me`")
    alipay_preauth: bool = Field(default=False,
                                 description="The merchant signed 资金预授权: sessions are held, not paid ahead")
    alipay_gateway: str = Field(default="",
                                description="Alipay's gateway; empty: production")

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
