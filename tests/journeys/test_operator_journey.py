"""The operator, on a phone and at a desk, in Chinese and in English: the overview with its map, an application
approved, the meter's commissioning sheet shown once, the meter's curves, a tariff previewed, a running session
stopped after a confirmation, the audit log, the scheduled jobs, the reconciliation, a search. And the API's own
page, /docs."""

import httpx
import pytest
from playwright.sync_api import expect

from scanpower.demo import OPERATOR
from tests.journeys.conftest import api_sign_in, apply_for_point, new_vendor
from tests.journeys.harness import DESKTOP, PHONE, open_journey

RUNS = [("zh", PHONE, 4), ("en", PHONE, 5), ("zh", DESKTOP, 6), ("en", DESKTOP, 7)]


def _running_session(site, token: str) -> int:
    _phone, vendor = new_vendor(site)
    with httpx.Client(base_url=site.web_url) as http:
        started = http.post("/api/v1/sessions", json={"outlet_token": token}, headers=vendor)
        assert started.status_code == 201, started.text
        return started.json()["id"]


@pytest.mark.timeout(150)
@pytest.mark.parametrize("language, viewport, outlet", RUNS, ids=[f"{lang}-{v.name}" for lang, v, _ in RUNS])
def test_an_operator_approves_commissions_watches_and_stops(site, market_outlets, chromium, language, viewport,
                                                            outlet):
    name = f"{language}-{viewport.name} 南岗机井"
    point_id = apply_for_point(site, name, 90)
    session_id = _running_session(site, market_outlets[outlet])
    journey = open_journey(chromium, "operator", language, viewport)
    page, words, base = journey.page, journey.words, site.web_url
    try:
        journey.sign_in(base, OPERATOR.phone, OPERATOR.password)
        expect(page).to_have_url(f"{base}/operator")
        expect(page.locator(".map circle").first).to_be_visible()
        expect(page.locator(".counts .stat").first).to_contain_text(words("服务中的用电点", "Points in service"))
        journey.shot("overview")
        journey.check_accessibility()

        card = page.locator(".application", has_text=name)
        card.get_by_role("button", name=words("批准", "Approve")).click()
        expect(page).to_have_url(f"{base}/points/{point_id}")
        expect(page.get_by_role("status")).to_contain_text(words("下一步：调试电表", "Next: commission its meter"))
        journey.shot("approved")
        page.get_by_role("link", name=words("打开电表调试单", "Open the commissioning sheet"), exact=False).click()
        secret = page.locator(".secret")
        expect(secret).to_be_visible()
        expect(page.get_by_text(words("密码只显示这一次", "shown only now"), exact=False)).to_be_visible()
        journey.shot("commissioning")
        journey.check_accessibility()
        page.reload()
        expect(page.locator(".secret")).to_have_count(0)  # shown once
        expect(page.get_by_text(words("已于", "already shown on"), exact=False)).to_be_visible()

        page.goto(f"{base}/operator")
        page.locator("#live-area").get_by_role("link", name="SP00000001").click()
        expect(page.get_by_text(words("通断指令与应答", "Relay commands and acks"))).to_be_visible()
        expect(page.locator("figure.chart polyline").first).to_be_attached()
        journey.shot("meter")
        journey.check_accessibility()

        page.goto(f"{base}/operator/tariffs")
        journey.shot("tariffs")
        journey.check_accessibility()
        page.get_by_role("link", name=words("新增版本…", "Add a version…")).last.click()
        page.get_by_role("button", name=words("预览电价", "Preview prices")).click()
        expect(page.locator(".preview table").first).to_contain_text("/kWh")
        journey.shot("tariff-preview")
        journey.check_accessibility()

        page.goto(f"{base}/operator")
        row = page.locator("#live-area tr", has_text=str(session_id)).filter(
            has=page.get_by_role("link", name=str(session_id), exact=True))
        row.get_by_role("link", name=words("停止…", "Stop…")).click()
        expect(page.get_by_role("heading", name=words(f"停止第 {session_id} 次用电？", f"Stop session {session_id}?")))\
            .to_be_visible()
        journey.shot("confirm-stop")
        journey.check_accessibility()
        page.get_by_role("button", name=words("确定停止", "Yes, stop it")).click()
        expect(page.get_by_role("status")).to_contain_text(words("已发出停止指令", "Stop sent"))
        with httpx.Client(base_url=site.web_url) as http:
            operator = api_sign_in(site, OPERATOR.phone, OPERATOR.password)
            reason = http.get(f"/api/v1/sessions/{session_id}", headers=operator).json()["stop_reason"]
        assert reason == "remote"

        page.get_by_role("link", name=words("操作日志", "Audit log")).click()
        expect(page.locator("tbody tr").first).to_contain_text(words("停止用电", "stopped a session"))
        expect(page.get_by_text(words("批准用电点", "approved a point")).first).to_be_visible()
        journey.shot("audit")
        journey.check_accessibility()

        page.get_by_role("link", name=words("定时任务", "Jobs"), exact=True).click()
        expect(page.get_by_role("heading", name=words("定时任务", "Scheduled jobs"))).to_be_visible()
        marking = page.locator("tr", has_text="mark_silent_meters")
        expect(marking).to_contain_text(words("将不再上报的电表标为离线", "Marks meters offline that stopped"))
        expect(marking).to_contain_text(words("每 1 分钟", "every 1 min"))
        expect(marking.locator(".badge")).to_have_text(words("完成", "done"))  # it runs at once when the site starts
        journey.shot("jobs")
        journey.check_accessibility()

        page.get_by_role("link", name=words("对账", "Reconciliation"), exact=True).click()
        expect(page.get_by_role("heading", name=words("对账", "Reconciliation"), exact=True)).to_be_visible()
        expect(page.get_by_text(words("尚未核对任何对账单", "No statement checked yet"), exact=False)).to_be_visible()
        journey.shot("reconciliation")
        journey.check_accessibility()

        page.goto(f"{base}/operator")
        page.get_by_role("searchbox").fill("SP0000000")
        page.get_by_role("button", name=words("搜索", "Search"), exact=True).click()
        expect(page.locator(".list-item", has_text="SP00000001")).to_be_visible()
        journey.shot("search")
        journey.no_console_errors()
    finally:
        journey.context.close()


def test_the_api_docs_render_from_the_served_openapi_document(site, chromium):
    journey = open_journey(chromium, "api-docs", "en", DESKTOP)
    try:
        journey.page.goto(f"{site.web_url}/docs")
        expect(journey.page.locator(".swagger-ui .info .title")).to_contain_text("ScanPower")
        expect(journey.page.locator(".opblock-summary-path", has_text="/api/v1/sessions").first).to_be_visible()
        expect(journey.page.get_by_text("Unable to render this definition")).to_have_count(0)
        journey.shot("docs")
        journey.no_console_errors()
    finally:
        journey.context.close()
