from backend.sessions.models import UsageSession


def test_live_page_shows_energy_cost_power_and_price(vendor, world, session_on):
    session_id = session_on.start(world.vendor_id, register_wh=120_000)
    session_on.read(session_id, register_wh=121_250, power_w=1_850.0)
    page = vendor.get(f"/sessions/{session_id}")
    assert page.status_code == 200
    assert "1.250 kWh" in page.text and "¥0.84" in page.text  # 1.25 kWh × 0.67 = 0.8375 → 0.84
    assert "1.85 kW" in page.text and "¥0.6700/kWh" in page.text
    assert "Power on" in page.text and "badge-ok" in page.text
    assert f'data-events="/sessions/{session_id}/events"' in page.text
    assert f'data-figures="/sessions/{session_id}/figures"' in page.text
    assert "/static/session.js" in page.text
    assert "Stop" in page.text


def test_the_page_cookie_authenticates_the_api_it_polls(vendor, world, session_on):
    session_id = session_on.start(world.vendor_id)
    assert vendor.get(f"/api/v1/sessions/{session_id}").json()["status"] == "active"


def test_another_vendor_gets_404_on_someone_elses_session(other_vendor, world, session_on):
    session_id = session_on.start(world.vendor_id)
    assert other_vendor.get(f"/sessions/{session_id}").status_code == 404
    assert other_vendor.get(f"/sessions/{session_id}/receipt").status_code == 404


def test_an_operator_sees_any_session(operator, world, session_on):
    session_id = session_on.start(world.vendor_id)
    assert operator.get(f"/sessions/{session_id}").status_code == 200


def test_stop_form_orders_the_relay_open_and_returns_to_the_live_page(vendor, world, session_on, db):
    session_id = session_on.start(world.vendor_id)
    response = vendor.post(f"/sessions/{session_id}/stop", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == f"/sessions/{session_id}"
    assert world.sink.sent[-1].action == "open"
    assert db.get(UsageSession, session_id).status == "stopping"
    assert "Stop sent" in vendor.get(response.headers["location"]).text


def test_receipt_of_an_open_session_redirects_to_the_live_page(vendor, world, session_on):
    session_id = session_on.start(world.vendor_id)
    response = vendor.get(f"/sessions/{session_id}/receipt", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == f"/sessions/{session_id}"


def test_receipt_explains_the_bill_from_the_registers(vendor, world, session_on):
    session_id = session_on.start(world.vendor_id, register_wh=120_000)
    session_on.finish(session_id, register_wh=123_456)
    page = vendor.get(f"/sessions/{session_id}/receipt")
    assert page.status_code == 200
    for text in ("Xinhua Road night market", "120,000 Wh", "123,456 Wh", "3.456 kWh", "0.6700", "All day",
                 "¥2.32", "You stopped it", f"<dd>{session_id}</dd>", "data-print"):
        assert text in page.text, text


def test_vendor_home_links_open_sessions_live_and_completed_ones_to_receipts(vendor, world, session_on):
    done = session_on.start(world.vendor_id, outlet=0)
    session_on.finish(done, register_wh=121_000)
    running = session_on.start(world.vendor_id, outlet=1)
    page = vendor.get("/me")
    assert f'href="/sessions/{done}/receipt"' in page.text
    assert f'href="/sessions/{running}"' in page.text
    assert "¥49.33" in page.text  # 50.00 − 1 kWh × 0.67


def test_a_bad_session_id_is_a_missing_page(vendor):
    assert vendor.get("/sessions/not-a-number").status_code == 404
    assert vendor.get("/sessions/99999").status_code == 404
