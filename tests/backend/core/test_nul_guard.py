"""A NUL character, which PostgreSQL text cannot hold, is refused with 400 wherever it comes in — never a 500."""
import pytest
from sqlmodel import Session

from backend.users.models import Role
from tests import factories


@pytest.mark.parametrize("path", ["/api/v1/outlets/%00abcdefgh", "/api/v1/outlets/abcdefgh%00/qr.png",
                                  "/api/v1/sessions?open_only=%00", "/api/v1/alarms?x=%00",
                                  "/api/v1/points/1/statement?month=2026-01%00"])
def test_nul_in_the_address_or_query_is_refused_before_sign_in(api_client, path):
    answer = api_client.get(path)

    assert answer.status_code == 400
    assert answer.json()["error"] == "NulCharacter"


def test_nul_in_the_sign_in_form_is_refused_and_counted(api_client):
    answer = api_client.post("/api/v1/auth/token", data={"username": "1380000\x000000", "password": "whatever-1"})

    assert answer.status_code == 400
    assert answer.json() == {"error": "NulCharacter", "detail": "the form contains a NUL character (\\0)"}
    assert 'scanpower_http_rejected_total{reason="NulCharacter"} 1' in api_client.get("/metrics").text


@pytest.mark.parametrize("field", ["name", "address"])
def test_nul_in_a_json_field_is_a_422_naming_the_field(api_client, bearer, engine, field):
    with Session(engine, expire_on_commit=False) as db:
        applicant = factories.user(db, Role.applicant)
        db.commit()
    body = factories.application().model_dump(mode="json") | {field: "Night\x00market"}

    answer = api_client.post("/api/v1/points", json=body, headers=bearer(applicant))

    assert answer.status_code == 422
    assert answer.json()["detail"] == [{"field": field, "message": "String should match pattern '^[^\\x00]*$'"}]


def test_nul_in_a_sign_up_name_is_a_422(api_client):
    answer = api_client.post("/api/v1/auth/signup", json={"phone": "13612345678", "password": "long-enough",
                                                          "name": "\x00"})

    assert answer.status_code == 422
    assert answer.json()["detail"][0]["field"] == "name"


@pytest.mark.parametrize("path", ["/s/%00", "/login?next=%00", "/sessions/1?x=%00"])
def test_nul_in_a_page_address_gets_a_readable_400_page(api_client, path):
    answer = api_client.get(path)

    assert answer.status_code == 400
    assert "text/html" in answer.headers["content-type"]
    assert "无法保存的字符" in answer.text  # "a character that cannot be stored", in the default language


def test_nul_in_a_page_form_gets_a_readable_400_page(page_client):
    answer = page_client.post("/login", data={"phone": "138\x00", "password": "x"})

    assert answer.status_code == 400
    assert "a character that cannot be stored" in answer.text
