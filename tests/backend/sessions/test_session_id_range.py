"""Session ids are 64-bit end to end: the API, the meter protocol and the columns agree on the range."""
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlmodel import Session

from backend.core.clock import utcnow
from backend.points import service as points
from backend.sessions import meter_events
from backend.sessions import service as sessions
from backend.users.models import Role
from tests import factories


@pytest.fixture
def operator(engine):
    with Session(engine, expire_on_commit=False) as db:
        made = factories.user(db, Role.operator)
        db.commit()
    return made


@pytest.mark.parametrize("path", ["/api/v1/sessions/{}", "/api/v1/sessions/{}/receipt"])
@pytest.mark.parametrize("session_id", [2**31, 2**53, 2**63 - 1])
def test_a_session_id_the_columns_hold_but_nobody_has_is_a_404(api_client, bearer, operator, path, session_id):
    answer = api_client.get(path.format(session_id), headers=bearer(operator))

    assert answer.status_code == 404
    assert answer.json()["error"] == "SessionNotFound"


@pytest.mark.parametrize("session_id", [2**63, 10**40])
def test_a_session_id_past_bigint_is_a_422(api_client, bearer, operator, session_id):
    answer = api_client.post(f"/api/v1/sessions/{session_id}/stop", headers=bearer(operator))

    assert answer.status_code == 422
    assert answer.json()["detail"][0]["field"] == "session_id"


def test_a_meter_ending_a_session_id_past_2_31_is_answered_not_crashed(db):
    point, meter = factories.active_point(db)
    db.commit()

    found = meter_events.ended_by_meter(db, meter, 1, 2**40, "limit_reached", 1_000, utcnow())

    assert found is None


def test_sessions_keep_counting_past_2_31(db):
    vendor, other = (factories.user(db, Role.vendor, Decimal("20.00")) for _ in range(2))
    point, meter = factories.active_point(db)
    first, second = (o.qr_token for o in points.outlets_of_point(db, point.id))
    _as_if_two_billion_sessions_came_before(db, sessions.start_session(db, other, first, Decimal("1.00"), 30))

    session = sessions.start_session(db, vendor, second, Decimal("1.00"), 30)
    db.flush()
    meter_events.command_acknowledged(db, meter, session.start_cmd_id, "close", True, None, 3 * 10**11,
                                  utcnow() - timedelta(hours=1))
    db.commit()

    assert session.id > 2**31
    db.expire_all()
    assert db.get(type(session), session.id).start_register_wh == 3 * 10**11


def _as_if_two_billion_sessions_came_before(db: Session, earlier) -> None:
    """The next session id passes 2^31: by the sequence on PostgreSQL, by the largest rowid on SQLite."""
    db.flush()
    if db.get_bind().dialect.name == "postgresql":
        db.exec(text(f"SELECT setval(pg_get_serial_sequence('usage_session', 'id'), {2**31 + 4})"))
    else:
        db.exec(text(f"UPDATE usage_session SET id = {2**31 + 4} WHERE id = {earlier.id}"))
        db.expunge(earlier)
