from sqlmodel import select

from backend.points.service import meter_of_point
from backend.sessions.models import SessionStatus, UsageSession


def test_scan_page_shows_the_outlet_price_and_start_for_a_vendor(vendor, world):
    page = vendor.get(f"/s/{world.tokens[1]}")
    assert page.status_code == 200
    assert "Xinhua Road night market" in page.text and "Xinhua Road 8, Gulou, Nanjing" in page.text
    assert "¥0.6700/kWh" in page.text and "Commercial, flat" in page.text
    assert 'class="outlet-no">2<' in page.text
    assert "¥50.00" in page.text
    assert f'action="/s/{world.tokens[1]}/start"' in page.text


def test_scan_page_without_sign_in_shows_the_outlet_and_sign_in_links(anonymous, world):
    page = anonymous.get(f"/s/{world.tokens[0]}")
    assert "¥0.6700/kWh" in page.text
    assert f"/login?next=/s/{world.tokens[0]}" in page.text
    assert f"/signup?next=/s/{world.tokens[0]}" in page.text
    assert "/start" not in page.text


def test_an_unknown_qr_code_gets_a_friendly_404(anonymous):
    page = anonymous.get("/s/not-a-real-token")
    assert page.status_code == 404
    assert "does not belong to any outlet" in page.text


def test_start_opens_a_session_orders_the_relay_closed_and_shows_it_live(vendor, world, db):
    response = vendor.post(f"/s/{world.tokens[0]}/start", follow_redirects=False)
    assert response.status_code == 303
    session = db.exec(select(UsageSession)).one()
    assert response.headers["location"] == f"/sessions/{session.id}"
    assert session.status == SessionStatus.starting and session.vendor_id == world.vendor_id
    assert [(o.action, o.session_id) for o in world.sink.sent] == [("close", session.id)]
    assert "Switching on" in vendor.get(response.headers["location"]).text


def test_starting_on_a_busy_outlet_explains_why(vendor, other_vendor, world, db):
    other_vendor.post(f"/s/{world.tokens[0]}/start")
    page = vendor.post(f"/s/{world.tokens[0]}/start")
    assert page.status_code == 409
    assert "Could not start" in page.text and "This outlet is in use right now." in page.text
    assert len(db.exec(select(UsageSession)).all()) == 1
    assert len(world.sink.sent) == 1


def test_starting_on_an_offline_meter_explains_why(vendor, world, db):
    meter_of_point(db, world.point_id).online = False
    db.commit()
    page = vendor.post(f"/s/{world.tokens[0]}/start")
    assert page.status_code == 409 and "offline" in page.text
    assert world.sink.sent == []


def test_an_operator_cannot_start_power(operator, world, db):
    page = operator.post(f"/s/{world.tokens[0]}/start")
    assert page.status_code == 403 and "Only vendor accounts" in page.text
    assert db.exec(select(UsageSession)).all() == []


def test_start_without_sign_in_goes_to_login_and_back_to_the_outlet(anonymous, world):
    response = anonymous.post(f"/s/{world.tokens[0]}/start", follow_redirects=False)
    assert response.headers["location"] == f"/login?next=/s/{world.tokens[0]}"


def test_the_vendors_own_running_session_is_linked_from_the_outlet(vendor, world, session_on):
    session_id = session_on.start(world.vendor_id, outlet=2)
    page = vendor.get(f"/s/{world.tokens[2]}")
    assert f'href="/sessions/{session_id}"' in page.text
    assert "/start" not in page.text
