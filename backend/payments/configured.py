"""The providers the settings turn on: Stripe, WeChat Pay and Alipay when configured, else the demo one."""
from pathlib import Path

from backend.core.config import Settings
from billing.payments.providers import Providers


def providers_from(settings: Settings) -> Providers:
    """Each provider whose settings are present, card first; none: the demo provider."""
    found = []
    if settings.stripe_secret_key:
        from billing.payments.stripe_provider import StripeProvider
        found.append(StripeProvider(settings.stripe_secret_key, settings.stripe_webhook_secret,
                                    settings.stripe_api_base, settings.stripe_currency))
    if settings.wechatpay_mchid:
        found.append(_wechat(settings))
    if settings.alipay_app_id:
        found.append(_alipay(settings))
    return Providers(*found)


def _wechat(settings: Settings):
    from billing.payments.wechat_provider import WeChatPayProvider
    public_key = _read(settings.wechatpay_public_key_path) if settings.wechatpay_public_key_path else None
    return WeChatPayProvider(
        settings.wechatpay_mchid, settings.wechatpay_appid, settings.wechatpay_apiv3_key,
        _read(settings.wechatpay_private_key_path), settings.wechatpay_cert_serial_no,
        settings.wechatpay_notify_url or f"{settings.public_base_url}/api/v1/webhooks/wechat",
        public_key=public_key, public_key_id=settings.wechatpay_public_key_id or None,
        cert_dir=settings.wechatpay_platform_cert_dir or None,
        payscore_service_id=settings.wechatpay_payscore_service_id, api_base=settings.wechatpay_api_base)


def _alipay(settings: Settings):
    from billing.payments.alipay_provider import AlipayProvider
    return AlipayProvider(
        settings.alipay_app_id, _read(settings.alipay_app_private_key_path), _read(settings.alipay_public_key_path),
        settings.alipay_notify_url or f"{settings.public_base_url}/api/v1/webhooks/alipay",
        settings.alipay_return_url or f"{settings.public_base_url}/me", preauth=settings.alipay_preauth,
        gateway=settings.alipay_gateway)


def _read(path: str) -> str:
    return Path(path).read_text()
