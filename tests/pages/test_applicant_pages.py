from datetime import timedelta

from sqlmodel import select

from backend.core.clock import local_today
from backend.points.models import MeteringPoint

GOOD = {"name": "Spring irrigation well 3", "address": "Qiaotou village, Jurong", "latitude": "31.9",
        "longitude": "119.1", "purpose": "irrigation", "capacity_kw": "15", "outlet_count": "2",
        "outlet_rated_current_a": "32", "valid_from": str(local_today()),
        "valid_until": str(local_today() + timedelta(days=90))}


def test_applying_creates_a_submitted_point(applicant, db):
    response = applicant.post("/applicant/apply", data=GOOD, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/applicant"
    point = db.exec(select(MeteringPoint).where(MeteringPoint.name == GOOD["name"])).one()
    assert point.status == "submitted" and point.outlet_count == 2
    assert "submitted; an operator will review it" in applicant.get("/applicant").text


def test_apply_form_shows_each_mistake_next_to_its_field(applicant, db):
    bad = GOOD | {"latitude": "north", "outlet_count": "0", "capacity_kw": ""}
    page = applicant.post("/applicant/apply", data=bad)
    assert page.status_code == 422
    assert 'id="err-latitude">Enter a number' in page.text
    assert 'id="err-outlet_count">Must be at least 1' in page.text
    assert 'id="err-capacity_kw">Required' in page.text
    assert 'value="Spring irrigation well 3"' in page.text  # what was typed is kept
    assert db.exec(select(MeteringPoint).where(MeteringPoint.name == GOOD["name"])).first() is None


def test_a_validity_longer_than_a_season_is_refused(applicant):
    page = applicant.post("/applicant/apply", data=GOOD | {"valid_until": str(local_today() + timedelta(days=400))})
    assert page.status_code == 422 and "at most 184 days" in page.text


def test_applicant_home_sums_usage_per_point(applicant, world, session_on):
    done = session_on.start(world.vendor_id, register_wh=10_000)
    session_on.finish(done, register_wh=12_000)
    session_on.start(world.other_vendor_id, outlet=1)
    page = applicant.get("/applicant").text
    assert "Xinhua Road night market" in page and "badge-ok" in page
    assert "2.000 kWh" in page and "¥1.34" in page and "(1 running)" in page
    assert f'href="/points/{world.point_id}/labels"' in page
    assert 'href="/applicant/apply"' in page


def test_vendors_are_not_applicants(vendor):
    assert vendor.get("/applicant").status_code == 403


def test_a_closed_point_offers_no_labels_to_print_but_keeps_its_statement(applicant, world, db):
    point = db.get(MeteringPoint, world.point_id)
    point.status = "closed"
    db.add(point)
    db.commit()
    home, page = applicant.get("/applicant").text, applicant.get(f"/points/{world.point_id}").text
    assert f'href="/points/{world.point_id}/labels"' not in home + page
    assert f'href="/points/{world.point_id}/statement"' in home and f'href="/points/{world.point_id}/statement"' in page
