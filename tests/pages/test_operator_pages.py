from datetime import UTC, datetime
from decimal import Decimal

from sqlmodel import Session, select

from backend.alarms import flooding
from backend.meters.models import RejectionKind
from backend.meters.quarantine import RejectionCount, RejectionSample, record_rejections
from backend.points import service as points
from backend.points.models import MeteringPoint, Outlet, PointStatus


def test_dashboard_lists_a_pending_application_and_approving_it_provisions_outlets(operator, pending_point, db):
    page = operator.get("/operator")
    assert page.status_code == 200
    assert "Tea garden roasting shed" in page.text
    assert f'action="/operator/points/{pending_point.id}/approve"' in page.text
    response = operator.post(f"/operator/points/{pending_point.id}/approve", data={"tariff_id": "1"},
                             follow_redirects=False)
    # The approved point's page tells what comes next: commissioning its meter.
    assert response.status_code == 303 and response.headers["location"] == f"/points/{pending_point.id}"
    assert db.get(MeteringPoint, pending_point.id).status == PointStatus.approved
    assert len(db.exec(select(Outlet).where(Outlet.point_id == pending_point.id)).all()) == 2
    point_page = operator.get(response.headers["location"]).text
    assert "approved. Next: commission its meter." in point_page and "/commissioning" in point_page
    assert f'action="/operator/points/{pending_point.id}/approve"' not in operator.get("/operator").text


def test_rejecting_needs_a_reason(operator, pending_point, db):
    operator.post(f"/operator/points/{pending_point.id}/reject", data={"reason": "  "})
    assert db.get(MeteringPoint, pending_point.id).status == PointStatus.submitted
    page = operator.post(f"/operator/points/{pending_point.id}/reject", data={"reason": "No capacity left"})
    assert "rejected." in page.text
    db.expire_all()
    point = db.get(MeteringPoint, pending_point.id)
    assert point.status == PointStatus.rejected and point.status_note == "No capacity left"


def test_approving_twice_says_why_instead_of_failing(operator, world):
    page = operator.post(f"/operator/points/{world.point_id}/approve", data={"tariff_id": "1"})
    assert page.status_code == 200 and "This application was already decided." in page.text


def test_approving_with_a_bad_tariff_says_why(operator, pending_point, db):
    assert "Choose a tariff" in operator.post(f"/operator/points/{pending_point.id}/approve",
                                              data={"tariff_id": "x"}).text
    assert "There is no such tariff." in operator.post(f"/operator/points/{pending_point.id}/approve",
                                             data={"tariff_id": "999"}).text
    assert db.get(MeteringPoint, pending_point.id).status == PointStatus.submitted


def test_dashboard_shows_meters_and_open_sessions_with_a_remote_stop(operator, world, session_on):
    session_id = session_on.start(world.vendor_id)
    session_on.read(session_id, 120_500, 900.0)
    page = operator.get("/operator").text
    assert "SP00000001" in page and "badge-ok" in page
    assert "0.500 kWh" in page and "900 W" in page
    assert f'href="/sessions/{session_id}/stop?next=/operator"' in page  # Stop asks first
    confirm = operator.get(f"/sessions/{session_id}/stop?next=/operator").text
    assert "Yes, stop it" in confirm and f'action="/sessions/{session_id}/stop"' in confirm
    fragment = operator.get("/operator/live").text
    assert "0.500 kWh" in fragment and "<html" not in fragment
    response = operator.post(f"/sessions/{session_id}/stop", data={"next": "/operator"}, follow_redirects=False)
    assert response.headers["location"] == "/operator"
    assert world.sink.sent[-1].action == "open"


def test_only_operators_see_the_dashboard(vendor, applicant):
    for client in (vendor, applicant):
        page = client.get("/operator")
        assert page.status_code == 403 and "This account may not do that." in page.text
        assert "Sign out" in page.text  # the error page still knows who is signed in
    assert vendor.post("/operator/points/1/approve", data={"tariff_id": "1"}).status_code == 403


def test_sessions_whose_meter_data_was_doubtful_are_listed_for_review(operator, world, session_on):
    from sqlmodel import Session

    from backend.sessions.models import UsageSession
    done = session_on.start(world.vendor_id, register_wh=50_000)
    session_on.finish(done, register_wh=10)  # the register went backwards: billed nothing, flagged
    with Session(world.engine) as db:
        assert db.get(UsageSession, done).needs_review
    page = operator.get("/operator").text
    assert "Sessions to review" in page and f'href="/sessions/{done}/receipt"' in page


def test_a_flooding_meter_and_its_quarantined_messages_are_shown(operator, world):
    at = datetime(2026, 11, 26, 13, 0, tzinfo=UTC)
    with Session(world.engine, expire_on_commit=False) as db:
        meter = points.meter_of_point(db, world.point_id)
        flooding.flooding(db, meter, at, Decimal("20"), 9800)
        sample = RejectionSample.of(at, f"scanpower/v1/m/{meter.serial}/telemetry", "over the limit", b'{"v": 1}')
        record_rejections(db, [RejectionCount(meter.serial, RejectionKind.rate_limited, 9768, sample, sample)])
        db.commit()
    page = operator.get("/operator").text
    assert "Meter sends too many messages" in page and "9,768" in page and "Over the rate limit" in page
    live = operator.get("/operator/live").text
    assert "Too many messages" in live and meter.serial in live
    detail = operator.get(f"/operator/meters/{meter.id}").text
    assert "9,768" in detail and "over the limit" in detail
