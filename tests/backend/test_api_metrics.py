"""The API process's /metrics: requests by route and status, and what the fleet is doing now."""
from decimal import Decimal

from fastapi.testclient import TestClient
from sqlmodel import Session

from backend.app import create_app
from backend.meters.orders import RecordingSink
from backend.points import service as points
from backend.sessions import service as sessions
from backend.users.models import Role
from tests import factories


def test_metrics_count_requests_by_route_and_status_and_show_open_sessions(settings, engine):
    with Session(engine, expire_on_commit=False) as db:
        point, _ = factories.active_point(db, outlets=2)
        vendor = factories.user(db, Role.vendor, Decimal("20.00"))
        sessions.start_session(db, vendor, points.outlets_of_point(db, point.id)[0].qr_token, Decimal("1.00"), 30)
        db.commit()
    with TestClient(create_app(settings, engine, RecordingSink(), lambda: True)) as http:
        for _ in range(3):
            http.get(f"/api/v1/points/{point.id}")  # not signed in
        http.get("/no/such/page/123")
        text = http.get("/metrics").text
    assert 'scanpower_http_requests_total{method="GET",route="/api/v1/points/{point_id}",status="401"} 3.0' in text
    assert 'route="unmatched",status="404"' in text and "/no/such/page/123" not in text
    assert 'scanpower_http_request_seconds_count{method="GET",route="/api/v1/points/{point_id}"} 3.0' in text
    assert 'scanpower_sessions_open{status="starting"} 1.0' in text
    assert 'scanpower_meters{state="online"} 1.0' in text
    assert 'scanpower_points{status="active"} 1.0' in text
