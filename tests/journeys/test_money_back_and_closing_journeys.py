"""Journeys after the first session, in Chinese on a phone and in English at a desk: a vendor withdraws the whole
balance and finds it in the history; an outlet drawing more than it is rated for raises an alarm on the operator's
meter page; the operator refunds part of that session and the vendor sees the refund; the operator closes a point,
after a confirmation, and the applicant sees it closed."""
from decimal import Decimal

import httpx
import pytest
from playwright.sync_api import expect

from firmware_sim import loads
from scanpower.demo import APPLICANT, OPERATOR, DemoMeter
from tests.journeys.conftest import (api_sign_in, apply_for_point, new_vendor, night_market_outlets, running_site,
                                     steady_loads)
from tests.journeys.harness import DESKTOP, PHONE, open_journey
from tests.mqtt_tools import wait_for

RUNS = [("zh", PHONE), ("en", DESKTOP)]
IDS = [f"{lang}-{v.name}" for lang, v in RUNS]
OVERLOADED = 8  # the night market's last outlet: 4 kW on 16 A (3.52 kW), under the meter's own trip at 1.2 ×


def overloaded_loads(meter: DemoMeter) -> dict:
    chosen = steady_loads(meter)
    if meter.channels >= OVERLOADED and OVERLOADED in chosen:
        chosen[OVERLOADED] = loads.constant(4_000)
    return chosen


@pytest.fixture(scope="module")
def site(_databases, broker_url):
    yield from running_site(_databases, broker_url, choose_loads=overloaded_loads)


@pytest.fixture(scope="module")
def market_outlets(site) -> list[str]:
    return night_market_outlets(site)


@pytest.fixture(scope="module")
def overloaded_session(site, market_outlets) -> dict:
    """A session on the overloaded outlet, started at once so that it has cost something by the time it is needed."""
    phone, vendor = new_vendor(site)
    with httpx.Client(base_url=site.web_url) as http:
        started = http.post("/api/v1/sessions", json={"outlet_token": market_outlets[OVERLOADED - 1]}, headers=vendor)
        assert started.status_code == 201, started.text
    return {"id": started.json()["id"], "phone": phone, "headers": vendor, "settled": False}


def _settled(site, session: dict) -> dict:
    """Stopped once it cost at least ¥0.02 (one cent refunded in each language), and settled."""
    with httpx.Client(base_url=site.web_url) as http:
        def read() -> dict:
            return http.get(f"/api/v1/sessions/{session['id']}", headers=session["headers"]).json()
        if not session["settled"]:
            wait_for(lambda: Decimal(read()["amount"] or "0") >= Decimal("0.02"), timeout=150,
                     what="the overloaded session to cost two fen")
            http.post(f"/api/v1/sessions/{session['id']}/stop", headers=session["headers"])
            wait_for(lambda: read()["status"] == "completed", timeout=20, what="settlement")
            session["settled"] = True
        return read()


@pytest.mark.timeout(90)
@pytest.mark.parametrize("language, viewport", RUNS, ids=IDS)
def test_a_vendor_withdraws_the_whole_balance_and_finds_it_in_the_history(site, overloaded_session, chromium,
                                                                           language, viewport):
    phone, _ = new_vendor(site, balance=Decimal("35.50"))
    journey = open_journey(chromium, "vendor-withdraws", language, viewport)
    page, words = journey.page, journey.words
    try:
        journey.sign_in(site.web_url, phone, "vendor-secret-1", then="/me")
        journey.shot("my-power")
        page.get_by_role("link", name=words("余额原路退回", "Withdraw the balance"), exact=False).click()
        journey.shot("withdraw")
        page.get_by_role("button", name=words("提现 ¥35.50", "Withdraw ¥35.50")).click()
        expect(page.get_by_role("status")).to_contain_text("¥35.50")
        expect(page.locator(".balance").first).to_have_text("¥0.00")
        withdrawn = page.locator(".list-item", has_text=words("提现", "Withdrawal")).first
        expect(withdrawn).to_contain_text("-¥35.50")
        journey.shot("history-withdrawn")
        journey.check_accessibility()
        expect(page.get_by_role("link", name=words("余额原路退回", "Withdraw the balance"), exact=False))\
            .to_have_count(0)  # nothing left to withdraw: the link is gone, and the page says so
        page.goto(f"{site.web_url}/wallet/withdraw")
        expect(page.get_by_text(words("目前没有可提现的余额", "Nothing is free to withdraw right now"),
                                exact=False)).to_be_visible()
        journey.no_console_errors()
    finally:
        journey.context.close()


@pytest.mark.timeout(240)
@pytest.mark.parametrize("language, viewport", RUNS, ids=IDS)
def test_an_overload_shows_on_the_meter_page_and_a_refund_reaches_the_vendor(site, overloaded_session, chromium,
                                                                             language, viewport):
    operator = open_journey(chromium, "operator-alarm-refund", language, viewport)
    page, words = operator.page, operator.words
    try:
        operator.sign_in(site.web_url, OPERATOR.phone, OPERATOR.password)
        page.locator("#live-area").get_by_role("link", name="SP00000001").click()
        alarm = page.locator("tr", has=page.locator(".badge", has_text=words("插座过载", "Outlet overloaded")))
        for _ in range(30):  # the alarm opens after three readings over the rating
            if alarm.count():
                break
            page.wait_for_timeout(1_000)
            page.reload()
        expect(alarm.first).to_contain_text(str(OVERLOADED))
        expect(alarm.first).to_contain_text("16.0 A")  # the worst current, against the outlet's 16 A
        operator.shot("meter-alarm")
        operator.check_accessibility()

        settled = _settled(site, overloaded_session)
        page.goto(f"{site.web_url}/sessions/{settled['id']}/receipt")
        page.get_by_role("link", name=words("退款…", "Refund…")).click()
        page.get_by_label(words("金额（元）", "Amount, ¥"), exact=False).fill("0.01")
        page.get_by_label(words("原因", "Reason"), exact=False).fill(words("电表读数复核", "Meter readings checked"))
        page.get_by_role("button", name=words("继续", "Continue")).click()
        expect(page.get_by_text(words("向用电户退款 ¥0.01？", "Refund ¥0.01 to the vendor?"))).to_be_visible()
        operator.shot("refund-confirm")
        page.get_by_role("button", name=words("确定退款", "Yes, refund")).click()
        expect(page.get_by_role("status")).to_contain_text("¥0.01")
        operator.no_console_errors()
    finally:
        operator.context.close()

    vendor = open_journey(chromium, "vendor-refunded", language, viewport)
    page, words = vendor.page, vendor.words
    try:
        vendor.sign_in(site.web_url, overloaded_session["phone"], "vendor-secret-1", then="/me")
        refund = page.locator(".list-item", has_text=words("退款至余额", "Refund into your balance")).first
        expect(refund).to_contain_text("+¥0.01")
        vendor.shot("history-refunded")
        page.goto(f"{site.web_url}/sessions/{overloaded_session['id']}/receipt")
        expect(page.locator(".receipt").get_by_text(words("已退款", "Refunded"), exact=True).first).to_be_visible()
        vendor.shot("receipt-refunded")
        vendor.check_accessibility()
        vendor.no_console_errors()
    finally:
        vendor.context.close()


def _approved_point(site, name: str) -> int:
    point_id = apply_for_point(site, name, 60)
    with httpx.Client(base_url=site.web_url) as http:
        tariffs = http.get("/api/v1/tariffs", headers=api_sign_in(site, OPERATOR.phone, OPERATOR.password)).json()
        tariff = next(t for t in tariffs if t["category"] == "agricultural")
        approved = http.post(f"/api/v1/points/{point_id}/approve", json={"tariff_id": tariff["id"]},
                             headers=api_sign_in(site, OPERATOR.phone, OPERATOR.password))
        assert approved.status_code == 200, approved.text
        return point_id


@pytest.mark.timeout(90)
@pytest.mark.parametrize("language, viewport", RUNS, ids=IDS)
def test_the_operator_closes_a_point_after_confirming_and_the_applicant_sees_it_closed(site, chromium, language,
                                                                                      viewport):
    name = f"{language} 北庄机井"
    point_id = _approved_point(site, name)
    operator = open_journey(chromium, "operator-closes", language, viewport)
    page, words = operator.page, operator.words
    try:
        operator.sign_in(site.web_url, OPERATOR.phone, OPERATOR.password)
        page.goto(f"{site.web_url}/points/{point_id}")
        page.get_by_role("link", name=words("关闭用电点…", "Close point…")).click()
        expect(page.get_by_role("heading", name=name, exact=False)).to_be_visible()
        operator.shot("confirm-close")
        operator.check_accessibility()
        page.get_by_role("button", name=words("确定关闭用电点", "Yes, close the point")).click()
        expect(page).to_have_url(f"{site.web_url}/points/{point_id}")
        expect(page.get_by_role("status")).to_contain_text(name)
        operator.no_console_errors()
    finally:
        operator.context.close()

    applicant = open_journey(chromium, "applicant-closed", language, viewport)
    page, words = applicant.page, applicant.words
    try:
        applicant.sign_in(site.web_url, APPLICANT.phone, APPLICANT.password)
        card = page.locator("article.point", has_text=name)
        expect(card.locator(".badge")).to_have_text(words("已关闭", "Closed"))
        expect(card.locator(".next-step")).to_contain_text(words("已被运营人员关闭", "Closed by the operator"))
        applicant.shot("my-points-closed")
        applicant.check_accessibility()
        applicant.no_console_errors()
    finally:
        applicant.context.close()
