"""A vendor on a 390 px phone, in Chinese, pays a session with WeChat Pay: scan, choose 微信支付, pay on WeChat's
cashier (the local fake's H5 page), come back, watch it run, Stop, and read a receipt that names WeChat Pay and
where the unused part went back to."""
import pytest
from playwright.sync_api import expect

from scanpower.demo import VENDOR
from tests.billing.fakes.wechat import APPID, MCHID, MERCHANT_SERIAL, FakeWeChatPay
from tests.journeys.conftest import night_market_outlets, running_site
from tests.journeys.harness import PHONE, open_journey


@pytest.fixture(scope="module")
def wechat():
    fake = FakeWeChatPay()
    fake.open_cashier()
    fake.refunds_succeed_at_once = True
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def wechat_site(_databases, broker_url, wechat, tmp_path_factory):
    """The demo site with WeChat Pay (paid ahead, no 支付分) configured against the fake, as an installation is."""
    keys = tmp_path_factory.mktemp("wechat-keys")
    (keys / "apiclient_key.pem").write_text(wechat.merchant.private_pem)
    (keys / "pub_key.pem").write_text(wechat.platform.public_pem)
    yield from running_site(_databases, broker_url, wechatpay_mchid=MCHID, wechatpay_appid=APPID,
                            wechatpay_apiv3_key=wechat.apiv3_key,
                            wechatpay_private_key_path=str(keys / "apiclient_key.pem"),
                            wechatpay_cert_serial_no=MERCHANT_SERIAL,
                            wechatpay_public_key_path=str(keys / "pub_key.pem"),
                            wechatpay_public_key_id=wechat.public_key_id, wechatpay_api_base=wechat.url)


@pytest.mark.timeout(150)
def test_a_vendor_pays_a_session_with_wechat_pay_and_the_receipt_names_it(wechat_site, wechat, chromium):
    outlets = night_market_outlets(wechat_site)
    journey = open_journey(chromium, "vendor-wechat", "zh", PHONE)
    page, base = journey.page, wechat_site.web_url
    try:
        journey.sign_in(base, VENDOR.phone, VENDOR.password, then=f"/s/{outlets[4]}")
        expect(page).to_have_url(f"{base}/s/{outlets[4]}")
        page.get_by_role("radio", name="微信支付", exact=True).check()
        page.get_by_label("预付金额（元）").fill("20")
        expect(page.get_by_text("用电结束后未用完的部分自动原路退回微信支付", exact=False)).to_be_visible()
        journey.shot("scan-wechat-chosen")
        journey.check_accessibility()

        page.get_by_role("button", name="开始用电", exact=True).click()
        page.wait_for_url(f"{wechat.url}/h5pay?*")  # WeChat's cashier (the fake's)
        expect(page.get_by_text("¥20.00")).to_be_visible()
        journey.shot("wechat-cashier")
        page.get_by_role("button", name="确认支付").click()  # WeChat notifies us, then sends the phone back

        page.wait_for_url("**/sessions/*", timeout=45_000)
        expect(page.get_by_text("已通过微信支付预付 ¥20.00", exact=False)).to_be_visible()
        expect(page.locator("[data-field=status_text]")).to_have_text("供电中", timeout=15_000)
        expect(page.locator("[data-field=energy]")).not_to_have_text("0.000 kWh", timeout=15_000)
        journey.shot("live-paid-with-wechat")
        journey.check_accessibility()

        page.get_by_role("button", name="停止用电", exact=True).click()
        page.wait_for_url("**/receipt", timeout=45_000)
        expect(page.get_by_text("已通过微信支付预付 ¥20.00", exact=False)).to_be_visible()
        # The scheduler sends the unused part back to WeChat Pay within seconds of the settlement.
        for _ in range(20):
            if page.get_by_text("已退回", exact=True).count():
                break
            page.wait_for_timeout(1_000)
            page.reload()
        back = page.locator(".money-back .list-item")
        expect(back).to_contain_text("退回微信支付")
        expect(back).to_contain_text("已退回")
        journey.shot("receipt-wechat")
        journey.check_accessibility()

        page.goto(f"{base}/me")
        expect(page.locator(".list-item", has_text="预付一次用电").first).to_contain_text("微信支付")
        expect(page.locator(".list-item", has_text="预付用电未用完部分").first).to_contain_text("退回微信支付")
        journey.shot("my-power-wechat")
        journey.check_accessibility()
        journey.no_console_errors()
    finally:
        journey.context.close()
