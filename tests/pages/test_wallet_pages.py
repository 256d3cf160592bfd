from decimal import Decimal

import pytest

from billing.wallet.arrears import owed
from billing.wallet.charges import charge_wallet
from billing.wallet.service import wallet_balance


@pytest.mark.parametrize("amount, message", [
    ("abc", "Enter a number"), ("-5", "Must be more than 0"), ("", "Required"), ("2000.01", "Must be at most 2000"),
    ("1.234", "At most 2 decimal places"), ("NaN", "Enter a number"),
])
def test_a_bad_top_up_shows_why_and_changes_nothing(vendor, world, db, amount, message):
    page = vendor.post("/wallet/top-up", data={"amount": amount, "next": "/me"})
    assert page.status_code == 422
    assert message in page.text
    assert wallet_balance(db, world.vendor_id) == Decimal("50.00")


def test_a_top_up_credits_the_wallet_and_returns_to_the_page(vendor, world, db):
    response = vendor.post("/wallet/top-up", data={"amount": "20.50", "next": f"/s/{world.tokens[0]}"},
                           follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == f"/s/{world.tokens[0]}"
    assert wallet_balance(db, world.vendor_id) == Decimal("70.50")
    page = vendor.get(response.headers["location"])
    assert "Added ¥20.50" in page.text and "¥70.50" in page.text
    assert "Added" not in vendor.get("/me").text  # a notice shows once


def test_top_up_never_redirects_off_site(vendor):
    response = vendor.post("/wallet/top-up", data={"amount": "5", "next": "https://evil.example/"},
                           follow_redirects=False)
    assert response.headers["location"] == "/me"


def test_only_vendors_top_up(applicant):
    assert applicant.post("/wallet/top-up", data={"amount": "5"}).status_code == 403


def test_a_top_up_form_sent_twice_credits_once(vendor, world, db):
    page = vendor.get("/me").text
    key = page.split('name="request_key" value="', 1)[1][:32]
    for _ in range(2):  # a double tap, or a resend after the answer was lost
        vendor.post("/wallet/top-up", data={"amount": "20", "next": "/me", "request_key": key})
    assert wallet_balance(db, world.vendor_id) == Decimal("70.00")
    vendor.post("/wallet/top-up", data={"amount": "20", "next": "/me"})  # a new form is a new top-up
    assert wallet_balance(db, world.vendor_id) == Decimal("90.00")


def test_money_owed_is_shown_and_the_next_top_up_pays_it_off(vendor, world, db):
    charge_wallet(db, world.vendor_id, "late", "adjustment", Decimal("52.00"), Decimal("50.00"), "late reading")
    db.commit()
    home = vendor.get("/me").text
    assert "You owe ¥2.00 for electricity your balance could not cover" in home and "¥0.00" in home
    assert "您有 ¥2.00 欠费" in vendor.get("/me", headers={"Accept-Language": "zh-CN"}).text
    vendor.post("/wallet/top-up", data={"amount": "5", "next": "/me"})
    assert (wallet_balance(db, world.vendor_id), owed(db, world.vendor_id)) == (Decimal("3.00"), Decimal("0.00"))
    home = vendor.get("/me").text
    assert "You owe" not in home and "Money owed, paid off" in home
