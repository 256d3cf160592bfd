"""The applicant (a village collective, a market manager), on a phone and at a desk, in Chinese and in English:
their points and next steps, a point's live outlets and charts, an application placed by "use my location",
the statement and its Excel file, the labels."""
import codecs

import httpx
import pytest
from playwright.sync_api import expect

from scanpower.demo import APPLICANT
from tests.journeys.conftest import new_vendor
from tests.journeys.harness import DESKTOP, LANGUAGES, PHONE, open_journey
from tests.mqtt_tools import wait_for

RUNS = [("zh", PHONE), ("en", PHONE), ("zh", DESKTOP), ("en", DESKTOP)]


@pytest.fixture(scope="module")
def a_finished_session(site, market_outlets) -> int:
    """One session on the night market, started and stopped through the API, so the point has usage to show."""
    _phone, vendor = new_vendor(site)
    with httpx.Client(base_url=site.web_url) as http:
        started = http.post("/api/v1/sessions", json={"outlet_token": market_outlets[5]}, headers=vendor)
        session_id = started.json()["id"]

        def read() -> dict:
            return http.get(f"/api/v1/sessions/{session_id}", headers=vendor).json()
        wait_for(lambda: read()["energy_wh"] > 0, timeout=15, what="energy to rise")
        http.post(f"/api/v1/sessions/{session_id}/stop", headers=vendor)
        wait_for(lambda: read()["status"] == "completed", timeout=15, what="settlement")
    return session_id
WELL_SITE = {"latitude": 32.4851, "longitude": 119.9011}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("language, viewport", RUNS, ids=[f"{lang}-{v.name}" for lang, v in RUNS])
def test_an_applicant_follows_their_points_and_applies_for_another(site, a_finished_session, chromium, language,
                                                                    viewport):
    journey = open_journey(chromium, "applicant", language, viewport, geolocation=WELL_SITE,
                           permissions=["geolocation"])
    page, words, base = journey.page, journey.words, site.web_url
    try:
        journey.sign_in(base, APPLICANT.phone, APPLICANT.password)
        expect(page).to_have_url(f"{base}/applicant")
        market = page.locator("article.point", has_text="桥头夜市")
        expect(market.locator(".next-step")).to_contain_text(words("服务中", "In service"))
        journey.shot("my-points")
        journey.check_accessibility()

        market.get_by_role("link", name="桥头夜市").click()
        expect(page.get_by_role("heading", name=words("插座实况", "Outlets now"), exact=False)).to_be_visible()
        expect(page.locator("figure.chart svg rect").first).to_be_attached()  # a day with usage
        expect(page.get_by_role("link", name=str(a_finished_session), exact=True)).to_be_visible()
        expect(page.get_by_text(words("本月至今", "This month so far"))).to_be_visible()
        journey.shot("point")
        journey.check_accessibility()

        page.get_by_role("link", name=words("月度对账单", "Monthly statement"), exact=True).click()
        expect(page.locator(".conservation")).to_contain_text(words("电表计量", "Counted by the meter"))
        journey.shot("statement")
        journey.check_accessibility()
        link = page.get_by_role("link", name=words("下载 Excel", "Download for Excel"), exact=False)
        download = page.request.get(base + link.get_attribute("href"),
                                    headers={"Accept-Language": LANGUAGES[language]})
        assert download.body().startswith(codecs.BOM_UTF8)
        assert download.body().decode("utf-8-sig").splitlines()[0].startswith(words("用电点,", "Point,"))

        page.goto(f"{base}/applicant/apply")
        page.get_by_label(words("用电点名称", "Name of the point"), exact=False).fill(
            words("西岗村 7 号机井", "Xigang well 7"))
        page.get_by_label(words("地址", "Address"), exact=False).fill(words("江苏省兴化市西岗村", "Xigang village"))
        page.get_by_role("button", name=words("使用我的位置", "Use my location")).click()
        expect(page.get_by_label(words("纬度", "Latitude"), exact=False)).to_have_value("32.485100")
        page.get_by_label(words("用途", "Purpose"), exact=False).select_option("irrigation")
        page.get_by_label(words("报装容量", "Contracted capacity"), exact=False).fill("7.5")
        page.get_by_label(words("插座数量", "Number of outlets"), exact=False).fill("1")
        page.get_by_label(words("截止日期", "Valid until"), exact=False).fill("2099-01-01")
        journey.shot("apply")
        journey.expected_status = 422
        page.get_by_role("button", name=words("提交申请", "Submit application")).click()
        # 2099 is more than 184 days away: the form says so next to the date, and keeps what was typed.
        expect(page.locator("#err-valid_until")).to_contain_text(words("最长 184 天", "at most 184 days"))
        expect(page.get_by_label(words("纬度", "Latitude"), exact=False)).to_have_value("32.485100")
        journey.shot("apply-mistake")
        journey.check_accessibility()
        journey.expected_status = None
        page.get_by_label(words("截止日期", "Valid until"), exact=False).fill(
            page.get_by_label(words("起始日期", "Valid from"), exact=False).input_value())
        page.get_by_role("button", name=words("提交申请", "Submit application")).click()
        expect(page.get_by_role("status")).to_contain_text(words("申请已提交", "submitted"))
        expect(page.locator("article.point", has_text=words("西岗村 7 号机井", "Xigang well 7")).first
               .locator(".next-step")).to_contain_text(words("等待运营人员审核", "Waiting for an operator"))
        journey.shot("applied")

        page.goto(f"{base}/applicant")
        market.get_by_role("link", name=words("二维码标签", "QR labels"), exact=False).click()
        expect(page.locator(".label svg")).to_have_count(8)
        journey.shot("labels")
        journey.no_console_errors()
    finally:
        journey.context.close()
