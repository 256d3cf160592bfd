"""Operators read each provider's daily statement against the books on a page, fetch a past day's statement now,
and find that in the audit log."""
from datetime import timedelta

from sqlmodel import Session

from backend.core.clock import local_today
from backend.core.security import create_access_token
from backend.deps import COOKIE_NAME
from backend.users.models import Role
from tests import factories
from tests.billing.fakes.wechat import bill_row
from tests.browser import browser
from tests.pages.paying.conftest import visible


def operator_phone(stall):
    with Session(stall.engine, expire_on_commit=False) as db:
        operator = factories.user(db, Role.operator)
        db.commit()
    phone = browser(stall.phone.app)
    phone.cookies.set(COOKIE_NAME, create_access_token(operator.id, stall.settings.jwt_secret(), 30),
                      domain="testserver.local")
    return phone


def test_a_past_days_statement_is_fetched_compared_listed_and_audited(stall):
    yesterday = local_today() - timedelta(days=1)
    unknown_to_us = bill_row(f"{yesterday} 09:00:00", "4200009", "sptelsewhere0001", "SUCCESS", 999, "", "", 0, "")
    stall.wechat.bill(f"{yesterday}", extra_lines=[unknown_to_us])
    with operator_phone(stall) as operator:
        assert "No statement checked yet." in operator.get("/operator/payments").text

        done = operator.post("/operator/payments/reconcile", data={"provider": "wechat", "day": f"{yesterday}"})

        page = visible(done.text)
        assert f"WeChat Pay, {yesterday}: 1 lines on the statement, 1 differences." in page
        assert "On the statement, not in our books" in page and "sptelsewhere0001" in page and "¥9.99" in page
        audit = visible(operator.get("/operator/audit").text)
        assert "reconciled a payment statement" in audit and f"wechat {yesterday}" in audit
        assert "differences: — → 1" in audit and "lines: — → 1" in audit


def test_todays_statement_is_not_out_yet_and_the_page_says_so(stall):
    with operator_phone(stall) as operator:
        page = operator.post("/operator/payments/reconcile", data={"provider": "alipay", "day": f"{local_today()}"})
        assert "That day&#39;s statement is not ready yet." in page.text
        card = operator.post("/operator/payments/reconcile",
                             data={"provider": "stripe", "day": f"{local_today() - timedelta(days=1)}"})
        assert "This way of paying is not available here." in card.text


def test_vendors_cannot_open_the_reconciliation(stall):
    assert stall.get("/operator/payments").status_code == 403
