"""The reconciliation API, the monthly statement (JSON, CSV, page) and who may see them."""
import csv
import io
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from backend.app import API_PREFIX, create_app
from backend.core.security import create_access_token
from backend.meters.orders import RecordingSink
from backend.reconciliation import endpoints, pages
from backend.reconciliation.statement_csv import (
    HEADER,
    TOTAL_COLLECTED,
    TOTAL_GAP,
    TOTAL_REGISTER_DELTA,
    TOTAL_SESSION_ENERGY,
    TOTAL_UNATTRIBUTED,
)
from backend.users.models import Role
from billing.ledger.service import ledger_total
from tests import factories
from tests.backend.reconciliation.scene import local, make_scene, run_quarters

SEPTEMBER = {"start": "2026-09-01T00:00:00", "end": "2026-10-01T00:00:00"}


def with_reconciliation(app):
    """Mount the routers the way backend/app.py and backend/pages/routes.py do, unless they already are."""
    if not any(getattr(r, "path", "") == f"{API_PREFIX}/points/{{point_id}}/reconciliation" for r in app.routes):
        app.include_router(endpoints.router, prefix=API_PREFIX)
        app.include_router(pages.router, include_in_schema=False)
    return app


@pytest.fixture
def world(engine):
    """September 2026: two sessions on two outlets and lights left on in between; plus strangers."""
    with Session(engine, expire_on_commit=False) as db:
        scene = make_scene(db)
        feed = scene.feed
        feed.report(local(2026, 9, 10, 17))
        run_quarters(feed, local(2026, 9, 10, 17), local(2026, 9, 10, 18), {1: 50, 2: 20})
        feed.start(scene.vendors[0], 1, local(2026, 9, 10, 18))
        feed.start(scene.vendors[1], 2, local(2026, 9, 10, 18))
        run_quarters(feed, local(2026, 9, 10, 18), local(2026, 9, 10, 21), {1: 500, 2: 250})
        feed.stop(1, local(2026, 9, 10, 21))
        run_quarters(feed, local(2026, 9, 10, 21), local(2026, 9, 10, 22), {1: 50, 2: 250})
        feed.stop(2, local(2026, 9, 10, 22))
        strangers = {"operator": factories.user(db, Role.operator), "other": factories.user(db, Role.applicant),
                     "vendor": scene.vendors[0]}
        db.commit()
    return scene, strangers


@pytest.fixture
def client(settings, engine):
    app = with_reconciliation(create_app(settings, engine, RecordingSink(), lambda: True))
    with TestClient(app) as http:
        yield http


def as_user(settings, user) -> dict:
    return {"Authorization": f"Bearer {create_access_token(user.id, settings.jwt_secret(), 10)}"}


def test_the_applicant_sees_their_points_conservation(client, settings, world):
    scene, _ = world
    answer = client.get(f"/api/v1/points/{scene.point.id}/reconciliation", params=SEPTEMBER,
                        headers=as_user(settings, scene.applicant))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["balanced"] and body["gap_wh"] == 0 and body["gaps"] == []
    assert body["session_energy_wh"] == 12 * 500 + 16 * 250
    assert body["unattributed_wh"] == 4 * 50 + 4 * 20 + 4 * 50
    assert body["register_delta_wh"] == body["session_energy_wh"] + body["unattributed_wh"]
    assert Decimal(body["unattributed_amount"]) == Decimal("0.24")  # 480 Wh × 0.5 yuan/kWh
    assert [o["channel"] for o in body["outlets"]] == [1, 2, 3]
    assert body["start"].startswith("2026-08-31T16:00:00")  # naive times are Asia/Shanghai


@pytest.mark.parametrize("who", ["other", "vendor"])
def test_someone_elses_point_does_not_exist(client, settings, world, who):
    scene, strangers = world
    for path in ("reconciliation", "statement", "statement.csv"):
        params = SEPTEMBER if path == "reconciliation" else {"month": "2026-09"}
        answer = client.get(f"/api/v1/points/{scene.point.id}/{path}", params=params,
                            headers=as_user(settings, strangers[who]))
        assert answer.status_code == 404 and answer.json()["error"] == "PointNotFound"
    page = client.get(f"/points/{scene.point.id}/statement?month=2026-09", headers=as_user(settings, strangers[who]))
    assert page.status_code == 404 and "没有这个用电点，或它不属于您" in page.text  # the same as a missing point


def test_signing_in_is_needed(client, world):
    scene, _ = world
    answer = client.get(f"/api/v1/points/{scene.point.id}/reconciliation", params=SEPTEMBER)
    assert answer.status_code == 401


def test_a_backwards_or_overlong_period_is_a_422(client, settings, world):
    scene, strangers = world
    url, headers = f"/api/v1/points/{scene.point.id}/reconciliation", as_user(settings, strangers["operator"])
    backwards = client.get(url, params={"start": "2026-10-01", "end": "2026-09-01"}, headers=headers)
    assert backwards.status_code == 422 and backwards.json()["error"] == "InvalidPeriod"
    overlong = client.get(url, params={"start": "2025-01-01", "end": "2026-09-01"}, headers=headers)
    assert overlong.status_code == 422
    month = client.get(f"/api/v1/points/{scene.point.id}/statement", params={"month": "2026-13"}, headers=headers)
    assert month.status_code == 422


def test_only_an_operator_bills_and_billing_twice_changes_nothing(client, settings, engine, world):
    scene, strangers = world
    url = f"/api/v1/points/{scene.point.id}/reconciliation/bill"
    refused = client.post(url, params=SEPTEMBER, headers=as_user(settings, scene.applicant))
    assert refused.status_code == 403
    first = client.post(url, params=SEPTEMBER, headers=as_user(settings, strangers["operator"]))
    again = client.post(url, params=SEPTEMBER, headers=as_user(settings, strangers["operator"]))
    assert first.status_code == again.status_code == 200, first.text
    assert first.json()["new"] and not again.json()["new"]
    assert first.json()["entry_id"] == again.json()["entry_id"] and Decimal(again.json()["amount"]) == Decimal("0.24")
    overlapping = client.post(url, params={"start": "2026-09-15", "end": "2026-10-15"},
                              headers=as_user(settings, strangers["operator"]))
    assert overlapping.status_code == 409 and overlapping.json()["error"] == "OverlapsBilledPeriod"
    with Session(engine) as db:
        assert ledger_total(db) == 0
    statement = client.get(f"/api/v1/points/{scene.point.id}/statement", params={"month": "2026-09"},
                           headers=as_user(settings, scene.applicant)).json()
    assert Decimal(statement["unattributed_bill"]["amount"]) == Decimal("0.24")


def test_statement_json_lists_the_months_sessions_and_totals(client, settings, world):
    scene, strangers = world
    answer = client.get(f"/api/v1/points/{scene.point.id}/statement", params={"month": "2026-09"},
                        headers=as_user(settings, strangers["operator"]))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["month"] == "2026-09" and body["point_name"] == scene.point.name
    assert [(s["channel"], s["settled_wh"]) for s in body["sessions"]] == [(1, 6000), (2, 4000)]
    assert Decimal(body["collected"]) == sum(Decimal(s["amount"]) for s in body["sessions"]) == Decimal("5.00")
    assert body["unattributed_bill"] is None and body["balanced"]


def test_statement_csv_parses_and_its_totals_match_its_rows(client, settings, world):
    scene, _ = world
    answer = client.get(f"/api/v1/points/{scene.point.id}/statement.csv", params={"month": "2026-09"},
                        headers=as_user(settings, scene.applicant))
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert f"statement-point-{scene.point.id}-2026-09.csv" in answer.headers["content-disposition"]
    assert answer.content.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads the file as UTF-8
    rows = [row[1:] for row in csv.reader(io.StringIO(answer.content.decode("utf-8-sig")))]
    assert tuple(rows[0]) == HEADER[1:]
    named = {row[0] for row in csv.reader(io.StringIO(answer.content.decode("utf-8-sig")))}
    assert named == {HEADER[0], scene.point.name}  # every row names the point
    sessions = [r for r in rows[1:] if not r[0].startswith("TOTAL")]
    totals = {r[0]: r for r in rows[1:] if r[0].startswith("TOTAL")}
    assert [(r[1], r[3], r[4]) for r in sessions] == [
        ("1", "2026-09-10T18:00:00+08:00", "2026-09-10T21:00:00+08:00"),
        ("2", "2026-09-10T18:00:00+08:00", "2026-09-10T22:00:00+08:00")]
    assert all(r[2] and not r[2].isdigit() for r in sessions)  # the vendor by name, not by id
    energy = sum(Decimal(r[5]) for r in sessions)
    assert Decimal(totals[TOTAL_SESSION_ENERGY][5]) == energy == Decimal("10.000")
    assert Decimal(totals[TOTAL_COLLECTED][6]) == sum(Decimal(r[6]) for r in sessions) == Decimal("5.00")
    assert Decimal(totals[TOTAL_UNATTRIBUTED][5]) == Decimal("0.480")
    assert Decimal(totals[TOTAL_REGISTER_DELTA][5]) == energy + Decimal(totals[TOTAL_UNATTRIBUTED][5])
    assert Decimal(totals[TOTAL_GAP][5]) == 0


def test_statement_page_shows_the_conservation_line_and_links_the_csv(client, settings, world):
    scene, strangers = world
    for user in (scene.applicant, strangers["operator"]):
        page = client.get(f"/points/{scene.point.id}/statement?month=2026-09", headers=as_user(settings, user))
        assert page.status_code == 200
        text = page.text
        assert "电表计量：10.480 kWh" in text  # the page's language: Chinese, as no other was asked for
        assert "扫码用电 10.000 kWh" in text and "未扫码用电 0.480 kWh" in text
        assert "平衡" in text and "¥5.00" in text
        assert f'href="/points/{scene.point.id}/statement.csv?month=2026-09"' in text
        assert "2026-09-10 18:00:00" in text  # Asia/Shanghai


def test_statement_page_flags_a_gap(client, settings, engine, world):
    scene, _ = world
    with Session(engine, expire_on_commit=False) as db:
        scene.feed.db = db
        scene.feed.meter = db.merge(scene.feed.meter)
        scene.feed.report(local(2026, 9, 20, 9))
        running = scene.feed.start(scene.vendors[2], 3, local(2026, 9, 20, 9))
        run_quarters(scene.feed, local(2026, 9, 20, 9), local(2026, 9, 20, 10), {3: 100})
        db.commit()
    page = client.get(f"/points/{scene.point.id}/statement?month=2026-09", headers=as_user(settings, scene.applicant))
    assert "有差额" in page.text and "+ 差额 0.400 kWh" in page.text
    assert f"Session {running.id} is still active: 400 Wh measured so far" in page.text
