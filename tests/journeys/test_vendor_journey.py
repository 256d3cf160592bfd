"""A vendor at a stall, on a phone and at a desk, in Chinese and in English: scan, sign in, Start, watch the
figures rise live, Stop, read the receipt, see the history, top up."""
import pytest
from playwright.sync_api import expect

from scanpower.demo import VENDOR
from tests.journeys.harness import DESKTOP, PHONE, amount, open_journey

RUNS = [("zh", PHONE, 0), ("en", PHONE, 1), ("zh", DESKTOP, 2), ("en", DESKTOP, 3)]


@pytest.mark.timeout(180)
@pytest.mark.parametrize("language, viewport, outlet", RUNS, ids=[f"{lang}-{v.name}" for lang, v, _ in RUNS])
def test_a_vendor_scans_starts_watches_stops_and_reads_the_receipt(site, market_outlets, chromium, language,
                                                                    viewport, outlet):
    journey = open_journey(chromium, "vendor", language, viewport)
    page, words, base = journey.page, journey.words, site.web_url
    try:
        page.goto(f"{base}/s/{market_outlets[outlet]}")
        expect(page.locator(".outlet-no")).to_have_text(str(outlet + 1))
        expect(page.locator(".price-value")).to_contain_text("/kWh")
        expect(page.get_by_text(words("问题", "Problem with this outlet?"), exact=False)).to_be_visible()
        journey.shot("scan-signed-out")
        journey.check_accessibility()

        page.get_by_role("link", name=words("登录后开始用电", "Sign in to start")).click()
        page.get_by_label(words("手机号", "Phone number")).fill(VENDOR.phone)
        page.get_by_label(words("密码", "Password")).fill(VENDOR.password)
        page.get_by_role("button", name=words("登录", "Sign in")).click()
        expect(page).to_have_url(f"{base}/s/{market_outlets[outlet]}")
        expect(page.get_by_role("radio", name=words("余额支付", "From my balance"), exact=False)).to_be_checked()
        journey.shot("scan-signed-in")
        journey.check_accessibility()

        page.get_by_role("button", name=words("开始用电", "Start"), exact=True).click()
        page.wait_for_url("**/sessions/*")
        status = page.locator("[data-field=status_text]")
        expect(status).to_have_text(words("供电中", "Power on"), timeout=15_000)
        energy = page.locator("[data-field=energy]")
        expect(energy).not_to_have_text("0.000 kWh", timeout=15_000)  # pushed live as the meter reports
        expect(page.locator("[data-field=amount_label]")).to_have_text(words("当前费用", "Cost so far"))
        expect(page.get_by_text(words("最高电价", "dearest price"), exact=False)).to_be_visible()
        journey.shot("live")
        journey.check_accessibility()

        page.get_by_role("button", name=words("停止用电", "Stop"), exact=True).click()
        page.wait_for_url("**/receipt", timeout=45_000)  # session.js goes there once the meter confirms
        paid = page.locator(".receipt-total b")
        expect(paid).to_contain_text("¥")
        expect(page.get_by_text(words("您已停止", "You stopped it"))).to_be_visible()
        expect(page.locator(".register-detail")).not_to_have_attribute("open", "")
        journey.shot("receipt")
        journey.check_accessibility()
        page.get_by_text(words("电表计量明细", "How the meter measured it")).click()
        expect(page.get_by_text(words("止码", "Stop register"), exact=True)).to_be_visible()
        journey.shot("receipt-registers")
        total = amount(paid.inner_text())

        page.goto(f"{base}/me")
        history = page.locator(".list-item", has_text=words("用电扣费", "Power used")).first
        expect(history).to_contain_text(f"-¥{total:.2f}" if total else "¥0.00")  # the receipt's amount
        page.get_by_role("button", name="+ ¥10", exact=True).click()
        expect(page.get_by_role("status")).to_contain_text(words("已充值 ¥10.00", "Added ¥10.00"))
        journey.shot("my-power")
        journey.check_accessibility()

        page.get_by_role("link", name=words("余额原路退回", "Withdraw the balance"), exact=False).click()
        expect(page.get_by_role("button", name=words("提现", "Withdraw"), exact=False)).to_be_visible()
        journey.shot("withdraw")
        journey.check_accessibility()
        journey.no_console_errors()
    finally:
        journey.context.close()
