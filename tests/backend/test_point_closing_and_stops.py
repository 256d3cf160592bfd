"""Who may stop a session, and what closing or expiry of a point does to its running sessions."""
import html
from datetime import timedelta
from decimal import Decimal

import pytest

from backend.core.clock import local_today, utcnow
from backend.core.security import create_access_token
from backend.deps import COOKIE_NAME
from backend.meters.orders import RecordingSink, pending_orders
from backend.points import closing
from backend.points import service as points
from backend.points.models import PointStatus
from backend.sessions import meter_events
from backend.sessions import service as sessions
from backend.sessions.models import SessionStatus, StopReason
from backend.users.models import Role, User
from billing.ledger.service import ledger_total
from scanpower.scheduler import build_scheduler
from tests import factories

MIN = Decimal("1.00")


@pytest.fixture
def scene(db):
    point, meter = factories.active_point(db, outlets=3, price=Decimal("1.00"))
    vendors = [factories.user(db, Role.vendor, Decimal("20.00")) for _ in range(3)]
    outlets = points.outlets_of_point(db, point.id)
    running = []
    for vendor, outlet in zip(vendors, outlets):
        session = sessions.start_session(db, vendor, outlet.qr_token, MIN, 30)
        meter_events.command_acknowledged(db, meter, session.start_cmd_id, "close", True, None, 1_000, utcnow())
        running.append(session)
    pending_orders(db)
    return point, meter, running


def stop_acks(db, meter, running, used_wh=500):
    for session in running:
        meter_events.command_acknowledged(db, meter, session.stop_cmd_id, "open", True, None, 1_000 + used_wh,
                                      utcnow() + timedelta(minutes=10))


def test_closing_a_point_stops_and_settles_its_running_sessions(db, scene):
    point, meter, running = scene
    closing.close_point(db, point.id, 30)
    orders = pending_orders(db)
    assert sorted((o.channel, o.action) for o in orders) == [(1, "open"), (2, "open"), (3, "open")]
    assert {s.status for s in running} == {SessionStatus.stopping}
    assert {s.stop_reason for s in running} == {StopReason.point_closed}
    stop_acks(db, meter, running)
    assert {(s.status, s.amount) for s in running} == {(SessionStatus.completed, Decimal("0.50"))}
    assert ledger_total(db) == 0


def test_an_expired_point_stops_its_running_sessions(db, scene):
    point, meter, running = scene
    expired = closing.expire_points(db, point.valid_until + timedelta(days=1), 30)
    assert [p.id for p in expired] == [point.id] and point.status == PointStatus.expired
    assert {s.stop_reason for s in running} == {StopReason.point_expired}
    assert len(pending_orders(db)) == 3
    stop_acks(db, meter, running)
    assert {s.status for s in running} == {SessionStatus.completed}


def test_a_point_whose_validity_continues_keeps_its_sessions(db, scene):
    point, _, running = scene
    assert closing.expire_points(db, local_today(), 30) == []
    assert {s.status for s in running} == {SessionStatus.active}


def test_the_applicant_may_stop_a_session_on_their_point_and_the_receipt_says_so(db, scene, page_client, settings):
    point, meter, running = scene
    applicant = db.get(User, point.applicant_id)
    sessions.request_stop(db, applicant, running[0].id, 30)
    assert running[0].stop_reason == StopReason.applicant
    stop_acks(db, meter, running[:1])
    assert running[0].stop_reason == StopReason.applicant
    db.commit()
    vendor = create_access_token(running[0].vendor_id, settings.jwt_secret(), 10)
    page_client.cookies.set(COOKIE_NAME, vendor, domain="testserver.local")
    for language, words in (("zh-CN", "由用电点管理方停止"), ("en", "Stopped by the point's manager")):
        receipt = page_client.get(f"/sessions/{running[0].id}/receipt", headers={"Accept-Language": language})
        assert receipt.status_code == 200 and words in html.unescape(receipt.text), language


def test_expiry_is_checked_every_minute(settings, engine):
    job = build_scheduler(settings, engine, RecordingSink()).jobs["expire_points"]
    assert job.schedule.trigger.interval == timedelta(minutes=1)


def test_another_applicant_or_vendor_cannot_stop_it(db, scene):
    _, _, running = scene
    for role in (Role.applicant, Role.vendor):
        stranger = factories.user(db, role)
        with pytest.raises(sessions.SessionNotFound):
            sessions.request_stop(db, stranger, running[0].id, 30)
    assert running[0].status == SessionStatus.active


def test_the_operator_stops_remotely_and_the_vendor_stops_their_own(db, scene):
    _, _, running = scene
    operator = factories.user(db, Role.operator)
    sessions.request_stop(db, operator, running[0].id, 30)
    sessions.request_stop(db, db.get(User, running[1].vendor_id), running[1].id, 30)
    assert [running[0].stop_reason, running[1].stop_reason] == [StopReason.remote, StopReason.vendor]
