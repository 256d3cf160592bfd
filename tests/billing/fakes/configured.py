"""Our real WeChat Pay and Alipay providers, configured against the local fakes."""
from billing.payments.alipay_provider import AlipayProvider
from billing.payments.wechat_provider import WeChatPayProvider
from tests.billing.fakes.alipay import APP_ID, FakeAlipay
from tests.billing.fakes.wechat import APPID, MCHID, MERCHANT_SERIAL, SERVICE_ID, FakeWeChatPay

SITE = "https://power.example.cn"


def wechat_provider(fake: FakeWeChatPay, payscore: bool, site: str = SITE, **overrides) -> WeChatPayProvider:
    options = dict(public_key=fake.platform.public_pem, public_key_id=fake.public_key_id,
                   payscore_service_id=SERVICE_ID if payscore else "", api_base=fake.url) | overrides
    return WeChatPayProvider(MCHID, APPID, fake.apiv3_key, fake.merchant.private_pem, MERCHANT_SERIAL,
                             f"{site}/api/v1/webhooks/wechat", **options)


def alipay_provider(fake: FakeAlipay, preauth: bool, site: str = SITE) -> AlipayProvider:
    return AlipayProvider(APP_ID, fake.app.private_pem, fake.alipay.public_pem, f"{site}/api/v1/webhooks/alipay",
                          f"{site}/me", preauth=preauth, gateway=fake.gateway)
