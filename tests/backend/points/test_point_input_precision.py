"""Capacities, currents and water coefficients the database cannot hold exactly are refused with 422.

NUMERIC(20, 8) on PostgreSQL stored 0.000000001 A as 0 A: the meter's messages were then quarantined
and its sessions never ended; a capacity of 1e-9 kW made the point list answer 500 for good.
"""
from decimal import Decimal

import pytest
from sqlmodel import Session

from backend.points import service as points
from backend.points.models import Purpose
from backend.users.models import Role
from tests import factories


@pytest.fixture
def people(engine):
    with Session(engine, expire_on_commit=False) as db:
        found = {"applicant": factories.user(db, Role.applicant), "operator": factories.user(db, Role.operator)}
        db.commit()
    return found


def _apply(api_client, bearer, applicant, **fields):
    body = factories.application().model_dump(mode="json") | fields
    return api_client.post("/api/v1/points", json=body, headers=bearer(applicant))


@pytest.mark.parametrize("fields", [
    {"outlet_rated_current_a": "0.000000001"},
    {"outlet_rated_current_a": 1e-9},
    {"outlet_rated_current_a": "16.005"},
    {"capacity_kw": "1e-9"},
    {"capacity_kw": "20.0005"},
    {"capacity_kw": "1e999999999"},
    {"capacity_kw": "NaN"},
    {"latitude": "NaN"},
])
def test_a_value_the_database_would_round_or_refuse_is_a_422(api_client, bearer, people, engine, fields):
    answer = _apply(api_client, bearer, people["applicant"], **fields)

    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == "ValidationError"
    assert [p["field"] for p in answer.json()["detail"]] == list(fields)
    listing = api_client.get("/api/v1/points", headers=bearer(people["operator"]))
    assert listing.status_code == 200 and listing.json()["count"] == 0


def test_values_at_their_precision_are_stored_and_read_back_exactly(api_client, bearer, people):
    answer = _apply(api_client, bearer, people["applicant"], capacity_kw="0.001", outlet_rated_current_a="0.01")

    assert answer.status_code == 201, answer.text
    listing = api_client.get("/api/v1/points", headers=bearer(people["operator"])).json()
    assert [(p["capacity_kw"], p["outlet_rated_current_a"]) for p in listing["data"]] == [("0.001", "0.01")]


@pytest.mark.parametrize("coefficient", ["1e-30", 1e-30, "0.00001", "1000.5", "-1"])
def test_a_water_coefficient_the_database_cannot_hold_is_a_422_and_the_list_still_reads(
        api_client, bearer, people, engine, coefficient):
    with Session(engine, expire_on_commit=False) as db:
        well, _ = factories.active_point(db, purpose=Purpose.irrigation)
        db.commit()
    url = f"/api/v1/points/{well.id}/water-coefficients"

    answer = api_client.post(url, json={"m3_per_kwh": coefficient, "effective_from": "2026-01-01"},
                             headers=bearer(people["operator"]))

    assert answer.status_code == 422, answer.text
    assert api_client.get(url, headers=bearer(people["operator"])).json() == []


@pytest.mark.parametrize("point_id", [2**31, 2**63 - 1, 2**63, 10**30])
def test_a_point_id_past_the_column_range_is_a_422(api_client, bearer, people, point_id):
    answer = api_client.get(f"/api/v1/points/{point_id}", headers=bearer(people["operator"]))

    assert answer.status_code == 422
    assert answer.json()["detail"][0]["field"] == "point_id"


def test_approving_with_a_tariff_id_past_the_column_range_is_a_422(api_client, bearer, people, engine):
    with Session(engine, expire_on_commit=False) as db:
        point = points.apply_for_point(db, people["applicant"], factories.application())
        db.commit()

    answer = api_client.post(f"/api/v1/points/{point.id}/approve", json={"tariff_id": 2**31},
                             headers=bearer(people["operator"]))

    assert answer.status_code == 422
    assert answer.json()["detail"][0]["field"] == "tariff_id"


def test_a_qr_token_that_cannot_be_one_is_a_422(api_client):
    assert api_client.get("/api/v1/outlets/" + "x" * 65).status_code == 422
    assert api_client.get("/api/v1/outlets/abc%20defgh").status_code == 422
    assert api_client.get("/api/v1/outlets/abcdefgh").status_code == 404


def test_a_stored_point_is_read_even_if_the_rules_for_new_ones_tighten(api_client, bearer, people, engine):
    with Session(engine, expire_on_commit=False) as db:
        point, _ = factories.active_point(db, people["applicant"])
        point.capacity_kw = Decimal("0.00012345")  # allowed by an older rule; NUMERIC(20, 8) holds it
        db.commit()

    answer = api_client.get(f"/api/v1/points/{point.id}", headers=bearer(people["operator"]))

    assert answer.status_code == 200
    assert answer.json()["capacity_kw"] == "0.00012345"
