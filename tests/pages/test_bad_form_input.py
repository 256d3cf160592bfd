"""Page forms given what attackers send — tiny decimals, huge numbers, NUL — answer with a message, never a 500."""
from sqlmodel import select

from backend.pages.csrf import CSRF_FIELD
from tests.browser import BROWSER_CSRF_TOKEN, SITE

from backend.points.models import MeteringPoint, PointStatus
from tests.pages.test_applicant_pages import GOOD


def test_a_capacity_or_current_the_database_would_round_is_shown_next_to_its_field(applicant, db):
    page = applicant.post("/applicant/apply", data=GOOD | {"capacity_kw": "0.000000001",
                                                           "outlet_rated_current_a": "0.000000001"})

    assert page.status_code == 422
    assert 'id="err-capacity_kw">At most 3 decimal places' in page.text
    assert 'id="err-outlet_rated_current_a">At most 2 decimal places' in page.text
    assert db.exec(select(MeteringPoint).where(MeteringPoint.name == GOOD["name"])).first() is None


def test_huge_numbers_in_the_application_are_shown_next_to_their_fields(applicant):
    page = applicant.post("/applicant/apply", data=GOOD | {"capacity_kw": "1e999999999", "outlet_count": "9" * 40,
                                                           "latitude": "1e308"})

    assert page.status_code == 422
    assert 'id="err-capacity_kw">Must be at most 1000' in page.text
    assert 'id="err-outlet_count">Must be at most 32' in page.text
    assert 'id="err-latitude">Must be at most 90' in page.text


def test_a_top_up_with_fractions_of_a_fen_or_absurd_size_is_explained(vendor):
    refusals = (("0.001", "At most 2 decimal places"), ("1e999999", "Must be at most 2000.00"),
                ("NaN", "Enter a number"))
    for amount, message in refusals:
        page = vendor.post("/wallet/top-up", data={"amount": amount})
        assert page.status_code == 422, amount
        assert message in page.text, amount


def test_nul_in_a_page_form_gets_the_400_page_and_changes_nothing(applicant, operator, db, pending_point):
    applied = applicant.post("/applicant/apply", data=GOOD | {"name": "Well\x00 3"})
    rejected = operator.post(f"/operator/points/{pending_point.id}/reject", data={"reason": "no\x00"})

    assert (applied.status_code, rejected.status_code) == (400, 400)
    assert "The address or the form contains a character that cannot be stored" in applied.text
    db.expire_all()
    assert db.get(MeteringPoint, pending_point.id).status == PointStatus.submitted


def test_approving_with_a_tariff_id_past_the_column_is_a_notice(operator, db, pending_point):
    answer = operator.post(f"/operator/points/{pending_point.id}/approve", data={"tariff_id": str(2**31)},
                           follow_redirects=True)

    assert answer.status_code == 200
    assert "Choose a tariff to approve with." in answer.text
    db.expire_all()
    assert db.get(MeteringPoint, pending_point.id).status == PointStatus.submitted


def test_a_session_or_point_id_past_the_columns_is_a_missing_page(operator):
    for path in (f"/sessions/{2**63}", f"/points/{2**31}/statement", f"/points/{2**31}/labels"):
        answer = operator.get(path)
        assert answer.status_code == 404, path


TEN_MB = "x" * 10_000_000


def test_a_ten_megabyte_field_in_the_application_shows_the_form_again_with_the_rest_kept(applicant, db):
    page = applicant.post("/applicant/apply", data=GOOD | {"address": TEN_MB})

    assert page.status_code == 422 and page.headers["content-type"].startswith("text/html")
    assert 'id="err-address">Far too long, so it was not kept: type it again, shorter' in page.text
    for field in ("name", "latitude", "capacity_kw", "valid_until"):
        assert f'value="{GOOD[field]}"' in page.text, field
    assert "xxxxxxxxxx" not in page.text
    assert db.exec(select(MeteringPoint).where(MeteringPoint.name == GOOD["name"])).first() is None


def test_a_far_too_long_field_is_explained_even_when_the_rest_is_fine_and_is_counted(applicant, app):
    counted = app.state.http_metrics.rejected.labels("FormFieldTooLong")
    before = counted._value.get()
    page = applicant.post("/applicant/apply", data=GOOD | {"name": "东" * 30_000})  # 270 KB as sent

    assert page.status_code == 422 and 'id="err-name">' in page.text and f'value="{GOOD["address"]}"' in page.text
    assert counted._value.get() == before + 1


def test_a_ten_megabyte_top_up_amount_shows_the_top_up_form_again_in_chinese(vendor, world, db):
    vendor.headers["Accept-Language"] = "zh-CN"
    page = vendor.post("/wallet/top-up", data={"amount": "1" + "0" * 10_000_000, "next": f"/s/{world.tokens[0]}"})

    assert page.status_code == 422 and page.headers["content-type"].startswith("text/html")
    assert "太长，未能保留：请重新输入较短的内容" in page.text and 'name="amount"' in page.text
    assert f'name="next" value="/s/{world.tokens[0]}"' in page.text
    assert "0000000000" not in page.text


def test_a_ten_megabyte_field_sent_with_the_token_in_the_form_as_a_browser_does_is_still_shown_back(applicant):
    # A browser sends the CSRF token as the form's first field, not as a header: the guard reads past 1 MB to it.
    applicant.event_hooks["request"].clear()
    form = {CSRF_FIELD: BROWSER_CSRF_TOKEN} | GOOD | {"name": TEN_MB}
    page = applicant.post("/applicant/apply", data=form, headers={"Origin": SITE})

    assert page.status_code == 422 and 'id="err-name">Far too long' in page.text
    assert f'value="{GOOD["address"]}"' in page.text
