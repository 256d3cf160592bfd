"""Months and periods far outside the platform's years are refused with 422 — `month=9999-12` used to be a 500."""
import pytest
from sqlmodel import Session

from backend.reconciliation.service import InvalidPeriod, month_period, period_of
from backend.users.models import Role
from tests import factories


@pytest.fixture
def point_and_operator(engine):
    with Session(engine, expire_on_commit=False) as db:
        point, _ = factories.active_point(db)
        operator = factories.user(db, Role.operator)
        db.commit()
    return point, operator


@pytest.mark.parametrize("month", ["9999-12", "0001-01", "0000-01", "1999-12", "2100-01"])
@pytest.mark.parametrize("path", ["statement", "statement.csv"])
def test_a_month_outside_the_service_years_is_a_422(api_client, bearer, point_and_operator, month, path):
    point, operator = point_and_operator

    answer = api_client.get(f"/api/v1/points/{point.id}/{path}", params={"month": month}, headers=bearer(operator))

    assert answer.status_code == 422
    assert answer.json()["detail"][0]["field"] == "month"


@pytest.mark.parametrize("month", ["9999-12", "0001-01", "2026-13"])
def test_the_statement_page_explains_a_month_it_cannot_show(api_client, bearer, point_and_operator, month):
    point, operator = point_and_operator

    answer = api_client.get(f"/points/{point.id}/statement", params={"month": month}, headers=bearer(operator))

    assert answer.status_code == 422
    assert "text/html" in answer.headers["content-type"]


@pytest.mark.parametrize("start, end", [("0001-01-01T00:00:00", "2026-01-01T00:00:00"),
                                        ("2026-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00"),
                                        ("0001-01-01T00:00:00+08:00", "0001-01-02T00:00:00+08:00")])
@pytest.mark.parametrize("method, path", [("get", "reconciliation"), ("post", "reconciliation/bill")])
def test_periods_that_overflow_time_zone_arithmetic_are_a_422(api_client, bearer, point_and_operator,
                                                               start, end, method, path):
    point, operator = point_and_operator

    answer = api_client.request(method.upper(), f"/api/v1/points/{point.id}/{path}",
                                params={"start": start, "end": end}, headers=bearer(operator))

    assert answer.status_code == 422
    assert answer.json()["error"] == "InvalidPeriod"


def test_reliability_over_extreme_years_is_a_422(api_client, bearer, point_and_operator):
    _, operator = point_and_operator

    answer = api_client.get("/api/v1/reliability", params={"start": "0001-01-01T00:00:00+08:00",
                                                           "end": "2026-01-01T00:00:00+08:00"},
                            headers=bearer(operator))

    assert answer.status_code == 422
    assert answer.json()["error"] == "InvalidPeriod"


def test_the_last_month_of_the_service_years_still_has_a_period():
    period = month_period("2099-12")

    assert (period.end - period.start).days == 31
    with pytest.raises(InvalidPeriod):
        month_period("9999-12")
    with pytest.raises(InvalidPeriod):
        period_of(period.start.replace(year=1), period.end)
