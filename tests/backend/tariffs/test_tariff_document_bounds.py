"""Tariff documents the database cannot hold as written are refused with 422; deep nesting never costs a 500."""

import pytest
from sqlmodel import Session

from backend.users.models import Role
from tests import factories


def _document(**changes) -> dict:
    version = {"label": "v1", "effective_from": "2020-01-01", "price_per_kwh": "0.6700"}
    return {"name": "flat-test", "title": "Flat", "category": "commercial", "versions": [version]} | changes


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.fixture
def operator(engine):
    with Session(engine, expire_on_commit=False) as db:
        made = factories.user(db, Role.operator)
        db.commit()
    return made


@pytest.mark.parametrize("changes, where", [
    ({"name": "x" * 81}, "name"),
    ({"title": "x" * 121}, "title"),
    ({"name": "flat\x00"}, "name"),
    ({"versions": [{"label": "v1", "effective_from": "2020-01-01", "price_per_kwh": "1e-9"}]}, "price_per_kwh"),
    ({"versions": [{"label": "v1", "effective_from": "2020-01-01", "price_per_kwh": "0.12345"}]}, "price_per_kwh"),
    ({"versions": [{"label": "v1", "effective_from": "2020-01-01", "price_per_kwh": "1e30"}]}, "price_per_kwh"),
    ({"versions": [{"label": "x" * 81, "effective_from": "2020-01-01", "price_per_kwh": "1"}]}, "label"),
])
def test_a_document_the_database_cannot_hold_is_a_422_naming_the_place(api_client, bearer, operator, changes, where):
    answer = api_client.post("/api/v1/tariffs", json={"definition": _document(**changes)}, headers=bearer(operator))

    assert answer.status_code == 422
    assert answer.json()["error"] == "InvalidTariffDocument"
    assert where in answer.json()["detail"]


def test_a_deeply_nested_definition_is_refused_at_any_depth(api_client, bearer, operator):
    for depth, status in ((900, 422), (5_000, 400), (100_000, 400)):
        body = ('{"definition": {"name": "deep", "category": "commercial", "versions": [], "note": '
                + _nested(depth) + "}}")
        answer = api_client.post("/api/v1/tariffs", content=body, headers=bearer(operator) |
                                 {"Content-Type": "application/json"})
        assert answer.status_code == status, depth
        assert "error" in answer.json()


def test_the_tariff_form_re_renders_a_price_it_cannot_store(page_client, bearer, operator):
    form = {"name": "tiny", "category": "commercial", "mode": "flat", "effective_from": "2030-01-01",
            "price": "0.000000001", "action": "save"}

    answer = page_client.post("/operator/tariffs/new", data=form, headers=bearer(operator))

    assert answer.status_code == 422
    assert 'id="err-price">' in answer.text and 'value="0.000000001"' in answer.text
