"""Live figures where server-sent events cannot be had (some in-app browsers, some proxies): the live page polls
/sessions/<id>/figures instead, and what the vendor reads still rises as the meter reports."""
import httpx
import pytest
from playwright.sync_api import expect

from tests.journeys.conftest import new_vendor
from tests.journeys.harness import DESKTOP, PHONE, open_journey

NO_EVENT_SOURCE = "delete window.EventSource;"


def _started(site, token: str) -> tuple[str, dict, int]:
    phone, vendor = new_vendor(site)
    with httpx.Client(base_url=site.web_url) as http:
        started = http.post("/api/v1/sessions", json={"outlet_token": token}, headers=vendor)
        assert started.status_code == 201, started.text
    return phone, vendor, started.json()["id"]


def _stop(site, vendor: dict, session_id: int) -> None:
    with httpx.Client(base_url=site.web_url) as http:
        http.post(f"/api/v1/sessions/{session_id}/stop", headers=vendor)


def _watch(journey, site, phone: str, session_id: int) -> list[str]:
    """Sign in, open the live page, and see the energy rise; the addresses the page fetched."""
    asked: list[str] = []
    journey.page.on("request", lambda request: asked.append(request.url))
    journey.sign_in(site.web_url, phone, "vendor-secret-1", then=f"/sessions/{session_id}")
    expect(journey.page.locator("[data-field=status_text]")).to_have_text(journey.words("供电中", "Power on"),
                                                                          timeout=15_000)
    energy = journey.page.locator("[data-field=energy]")
    expect(energy).not_to_have_text("0.000 kWh", timeout=20_000)
    first = energy.inner_text()
    expect(energy).not_to_have_text(first, timeout=20_000)  # and it keeps rising
    return asked


@pytest.mark.timeout(90)
def test_without_event_source_the_live_page_polls_and_the_figures_still_rise(site, market_outlets, chromium):
    phone, vendor, session_id = _started(site, market_outlets[0])
    journey = open_journey(chromium, "vendor-polling", "zh", PHONE)
    journey.context.add_init_script(NO_EVENT_SOURCE)
    try:
        asked = _watch(journey, site, phone, session_id)
        assert any(url.endswith(f"/sessions/{session_id}/figures") for url in asked)
        assert not any("/events" in url for url in asked)
        journey.shot("live-polled")
        journey.no_console_errors()
    finally:
        journey.context.close()
        _stop(site, vendor, session_id)


@pytest.mark.timeout(120)
def test_when_the_event_stream_keeps_failing_the_live_page_falls_back_to_polling(site, market_outlets, chromium):
    phone, vendor, session_id = _started(site, market_outlets[1])
    journey = open_journey(chromium, "vendor-events-fail", "en", DESKTOP)
    journey.page.route("**/events", lambda route: route.fulfill(status=503, body="away"))
    try:
        asked = _watch(journey, site, phone, session_id)
        assert any("/events" in url for url in asked)  # it tried the stream first
        assert any(url.endswith(f"/sessions/{session_id}/figures") for url in asked)
        journey.shot("live-after-failed-stream")
    finally:
        journey.context.close()
        _stop(site, vendor, session_id)
