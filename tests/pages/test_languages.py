"""Chinese first: the language comes from the visitor's choice, else Accept-Language, else Chinese; pages in
Chinese show no English (but for units, codes and the data people typed)."""
import re

import pytest

from backend.pages.language import LANGUAGE_COOKIE, negotiate
from backend.points import service as points
from tests.browser import browser
from tests.pages.conftest import _signed_in
from tests.pages.test_translations import english_words

# What the seeded world's people typed, in English: data, not the page's words.
DATA = ("Xinhua Road night market", "Xinhua Road 8, Gulou, Nanjing", "Commercial, flat", "Grid operator",
        "Market manager", "Noodle stall", "Fruit stall", "Tea garden roasting shed", "English", "ScanPower API")


@pytest.mark.parametrize("header, locale", [
    (None, "zh_CN"), ("", "zh_CN"), ("en-US,en;q=0.9", "en"), ("zh-CN,zh;q=0.9,en;q=0.8", "zh_CN"),
    ("fr-FR, en;q=0.5", "en"), ("en;q=0.2, zh-TW;q=0.8", "zh_CN"), ("de", "zh_CN"), ("en;q=0", "zh_CN"),
    ("en;q=abc", "zh_CN"), ("zh-Hans-CN", "zh_CN"),
])
def test_the_browser_s_languages_choose_the_page_s(header, locale):
    assert negotiate(header) == locale


def test_a_browser_that_asks_for_nothing_gets_chinese_and_can_switch_and_keep_english(app):
    with browser(app, language="") as client:
        page = client.get("/")
        assert '<html lang="zh-CN">' in page.text and "扫一扫插座" in page.text
        assert page.headers["content-language"] == "zh-CN"
        switched = client.get("/language/en?next=/login", follow_redirects=False)
        assert switched.status_code == 303 and switched.headers["location"] == "/login"
        assert client.cookies[LANGUAGE_COOKIE] == "en"
        assert '<html lang="en">' in client.get("/login").text  # remembered
        client.get("/language/zh_CN?next=//evil.example")
        assert "登录" in client.get("/login").text


def test_an_english_browser_gets_english_until_it_chooses_chinese(app):
    with browser(app, language="en-GB,en") as client:
        assert "Scan an outlet. Get power." in client.get("/").text
        client.get("/language/zh_CN?next=/")
        assert "扫一扫插座" in client.get("/").text


def test_the_api_stays_english_whatever_the_language(app, world):
    with browser(app, language="zh-CN") as client:
        answer = client.get("/api/v1/outlets/notatoken")
        assert answer.json()["error"] == "OutletNotFound" and "outlet" in answer.json()["detail"]


def _chinese(app, user_id=None):
    client = _signed_in(app, user_id) if user_id else browser(app)
    client.headers["Accept-Language"] = "zh-CN,zh;q=0.9"
    return client


def _no_english(client, path, status=200, data=DATA):
    page = client.get(path)
    assert page.status_code == status, (path, page.status_code)
    leaked = english_words(page.text, data)
    assert not leaked, f"{path}: {leaked}"
    return page


def test_vendor_pages_in_chinese_show_no_english(app, world, session_on):
    done = session_on.start(world.vendor_id, outlet=1)
    session_on.finish(done, register_wh=121_500)
    running = session_on.start(world.vendor_id, outlet=0)
    session_on.read(running, 120_300, 650.0)
    with _chinese(app, world.vendor_id) as vendor:
        for path in ("/", "/me", f"/s/{world.tokens[2]}", f"/s/{world.tokens[0]}", f"/sessions/{running}",
                     f"/sessions/{done}/receipt", "/wallet/top-up", "/wallet/withdraw"):
            _no_english(vendor, path)
        refused = vendor.post(f"/s/{world.tokens[0]}/start", data={"pay_with": "wallet"})
        assert refused.status_code == 409 and not english_words(refused.text, DATA)
        assert "这个插座正在使用中" in refused.text
        _no_english(vendor, "/sessions/999999", status=404)
        _no_english(vendor, "/operator", status=403)
        _no_english(vendor, "/no/such/page", status=404)
    with _chinese(app) as anonymous:
        for path in ("/login", "/signup", f"/s/{world.tokens[1]}"):
            _no_english(anonymous, path)
        _no_english(anonymous, "/s/not-a-real-code", status=404)
        bad = anonymous.post("/signup", data={"phone": "12", "password": "short", "role": "operator"})
        assert bad.status_code == 422 and not english_words(bad.text, DATA)


def test_applicant_pages_in_chinese_show_no_english(app, world, pending_point):
    with _chinese(app, world.applicant_id) as applicant:
        for path in ("/applicant", "/applicant/apply", f"/points/{world.point_id}", f"/points/{pending_point.id}",
                     f"/points/{world.point_id}/labels", f"/points/{world.point_id}/statement"):
            _no_english(applicant, path)
        reversed_dates = {"name": "东风村 3 号井", "address": "东风村", "latitude": "32.9", "longitude": "119.8",
                          "purpose": "irrigation", "capacity_kw": "11", "outlet_count": "1",
                          "valid_from": "2030-01-02", "valid_until": "2030-01-01"}
        bad = applicant.post("/applicant/apply", data=reversed_dates)
        assert bad.status_code == 422 and not english_words(bad.text, DATA)
        assert 'id="err-valid_until">不能早于起始日期' in bad.text
        bad = applicant.post("/applicant/apply", data=reversed_dates | {"latitude": "north", "outlet_count": "0"})
        assert 'id="err-latitude">请输入数字' in bad.text and 'id="err-outlet_count">不能小于 1' in bad.text


def test_operator_pages_in_chinese_show_no_english(app, world, pending_point, session_on, db):
    running = session_on.start(world.vendor_id)
    meter = points.meter_of_point(db, world.point_id)
    with _chinese(app, world.operator_id) as operator:
        for path in ("/operator", "/operator/live", "/operator/tariffs", "/operator/tariffs/new",
                     f"/operator/meters/{meter.id}", f"/operator/meters/{meter.id}/commissioning",
                     f"/sessions/{running}/stop", f"/operator/points/{world.point_id}/close", "/operator/audit",
                     "/operator/payments", "/operator/search?q=138", "/operator/search?q=nothing-like-this"):
            _no_english(operator, path, data=DATA + (meter.mqtt_password, "nothing-like-this"))
        tariffs = operator.get("/operator/tariffs/1/edit")
        assert not english_words(tariffs.text, DATA + ("summer_winter", "spring_autumn"))


def _key(page: str) -> str:
    return re.search(r'name="request_key" value="([^"]+)"', page).group(1)


def test_every_page_after_money_moved_and_points_were_decided_shows_no_english(app, world, session_on,
                                                                              pending_point, db):
    """Not only the main pages: a refund, a withdrawal, a rejected and a closed point, each page that shows them."""
    done = session_on.start(world.vendor_id, outlet=1)
    session_on.finish(done, register_wh=125_000)
    data = DATA + ("Meter bill checked",)
    with _chinese(app, world.operator_id) as operator:
        for path in (f"/operator/sessions/{done}/refund", f"/sessions/{done}/receipt", f"/points/{world.point_id}",
                     f"/points/{world.point_id}/statement", f"/operator/meters/{_meter(db, world).id}?hours=6",
                     f"/points/{pending_point.id}"):
            _no_english(operator, path, data=data + (_meter(db, world).mqtt_password,))
        asked = {"amount": "0.50", "reason": "Meter bill checked"}
        confirm = _no_english_post(operator, f"/operator/sessions/{done}/refund", asked, data)
        assert "确定退款" in confirm.text
        refunded = operator.post(f"/operator/sessions/{done}/refund",
                                 data=asked | {"confirmed": "yes", "request_key": _key(confirm.text)})
        assert refunded.status_code == 200 and not english_words(refunded.text, data)
        assert f"已为第 {done} 次用电退款 ¥0.50" in refunded.text
        _no_english_post(operator, "/operator/tariffs/new", {"action": "preview", "mode": "flat", "price": "x"},
                         data, status=422)
        _no_english_post(operator, f"/operator/points/{pending_point.id}/reject", {"reason": "容量不足"}, data)
        assert "已驳回" in _no_english(operator, f"/points/{pending_point.id}", data=data + ("容量不足",)).text
        closed = _no_english_post(operator, f"/operator/points/{world.point_id}/close", {}, data)
        assert "已关闭" in closed.text
        _no_english(operator, "/operator", data=data)
    with _chinese(app, world.vendor_id) as vendor:
        _no_english(vendor, f"/sessions/{done}/receipt", data=data)
        form = _no_english(vendor, "/wallet/withdraw")
        _no_english_post(vendor, "/wallet/withdraw", {"request_key": _key(form.text)}, data)
        history = _no_english(vendor, "/me", data=data).text
        assert "退款" in history and "提现" in history
        _no_english(vendor, "/wallet/withdraw")  # nothing left to withdraw
        _no_english(vendor, f"/s/{world.tokens[0]}")  # the point is closed
        refused = vendor.post(f"/s/{world.tokens[0]}/start", data={"pay_with": "wallet"})
        assert refused.status_code == 409 and not english_words(refused.text, data)
    with _chinese(app, world.applicant_id) as applicant:
        for path in ("/applicant", f"/points/{world.point_id}", f"/points/{pending_point.id}"):
            _no_english(applicant, path, data=data + ("容量不足",))


def _meter(db, world):
    return points.meter_of_point(db, world.point_id)


def _no_english_post(client, path, form, data, status=200):
    """A form sent, and the page it leads to (after any redirect) in Chinese."""
    page = client.post(path, data=form)
    assert page.status_code == status, (path, page.status_code, page.text[:300])
    leaked = english_words(page.text, data)
    assert not leaked, f"POST {path}: {leaked}"
    return page
