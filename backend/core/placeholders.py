"""Settings that must not keep a placeholder in production: secrets, passwords, and the address on the labels."""
from urllib.parse import urlsplit

# Values of the demo, the examples and compose.yaml, and the usual stand-ins.
PLACEHOLDERS = {"", "secret", "password", "changeme", "change-me", "scanpower", "example", "test", "demo",
                "postgres", "admin"}
PLACEHOLDER_PREFIXES = ("change-me", "changeme", "replace-me", "your-", "example")
MIN_SECRET_KEY = 32
SECRETS = ("secret_key",)
# Only when set: the payment providers in use, and the accounts `scanpower broker-config` writes.
IF_SET = ("stripe_secret_key", "stripe_webhook_secret", "wechatpay_apiv3_key", "mqtt_gateway_password",
          "mqtt_api_password")


def is_placeholder(value: str) -> bool:
    lowered = value.strip().lower()
    return lowered in PLACEHOLDERS or lowered.startswith(PLACEHOLDER_PREFIXES)


def placeholder_problems(settings) -> list[str]:
    """What is wrong with the settings for production, each named by its environment variable."""
    problems = [f"{name.upper()} is empty or a placeholder" for name in SECRETS
                if is_placeholder(getattr(settings, name))]
    if not is_placeholder(settings.secret_key) and len(settings.secret_key) < MIN_SECRET_KEY:
        problems.append(f"SECRET_KEY is shorter than {MIN_SECRET_KEY} characters")
    problems += [f"{name.upper()} is a placeholder" for name in IF_SET
                 if getattr(settings, name) and is_placeholder(getattr(settings, name))]
    problems += [f"the password in {name.upper()} is a placeholder" for name in ("database_url", "mqtt_url")
                 if _password_is_placeholder(getattr(settings, name))]
    problems += _broker_accounts_problems(settings)
    if not settings.mqtt_url:
        problems.append("MQTT_URL is empty (the embedded broker is for the demo)")
    elif urlsplit(settings.mqtt_url).password is None:
        problems.append("MQTT_URL carries no user and password (every client of the broker signs in)")
    if urlsplit(settings.public_base_url).hostname in ("127.0.0.1", "localhost", None):
        problems.append("PUBLIC_BASE_URL points at this machine; the QR codes would lead nowhere")
    return problems


def _password_is_placeholder(url: str) -> bool:
    password = urlsplit(url).password
    return password is not None and is_placeholder(password)


def _broker_accounts_problems(settings) -> list[str]:
    """Live accounts need their secret: the dynamic-security admin's password, or the HTTP auth endpoint's."""
    needed = {"dynsec": "mqtt_admin_password", "http": "broker_auth_secret"}.get(settings.broker_accounts)
    if needed and is_placeholder(getattr(settings, needed)):
        return [f"{needed.upper()} is empty or a placeholder (BROKER_ACCOUNTS={settings.broker_accounts})"]
    if needed == "broker_auth_secret" and len(settings.broker_auth_secret) < MIN_SECRET_KEY:
        return [f"BROKER_AUTH_SECRET is shorter than {MIN_SECRET_KEY} characters"]
    return []
