"""The operator's reconciliation (对账) page: each provider's daily statement against the books, every difference,
and fetching a past day's statement now (recorded in the audit log)."""
from datetime import date, timedelta
from typing import Literal

from fastapi import Request
from pydantic import BaseModel
from starlette.responses import RedirectResponse

from backend.core.clock import local_today
from backend.core.errors import ScanPowerError
from backend.deps import Operator
from backend.pages.errors import PageDb, discard_work, page_router
from backend.pages.flash import flash
from backend.pages.forms import FormData, parse
from backend.pages.i18n import N_, gettext
from backend.pages.money_words import provider_name
from backend.pages.refusals import refusal_text
from backend.pages.rendering import render
from backend.payments.statements import reconcile_now
from backend.payments.views import reconciliation_public

router = page_router()
DIFFERENCE_TEXT = {
    "missing_in_books": N_("On the statement, not in our books"),
    "missing_at_provider": N_("In our books, not on the statement"),
    "amount_differs": N_("The amounts differ"),
}


class StatementRun(BaseModel):
    provider: Literal["stripe", "wechat", "alipay"]
    day: date


@router.get("/operator/payments")
def reconciliation(request: Request, db: PageDb, operator: Operator):
    """Statements checked per provider and day, and each difference an operator should look into."""
    return render(request, "operator_payments.html", user=operator, found=reconciliation_public(db),
                  providers=[p.name for p in request.app.state.payments if p.capabilities.statement],
                  yesterday=local_today() - timedelta(days=1), difference_text=DIFFERENCE_TEXT)


@router.post("/operator/payments/reconcile")
def reconcile(request: Request, form: FormData, db: PageDb, operator: Operator):
    """Fetch one provider's statement of a past day now and compare it with the books."""
    body, _errors = parse(StatementRun, form, ("provider", "day"))
    if body is None:
        return _back(gettext("Choose a payment service and a day."), "error")
    try:
        check = reconcile_now(db, request.app.state.payments, body.provider, body.day, operator)
    except ScanPowerError as exc:
        discard_work(db)
        return _back(refusal_text(exc), "error")
    return _back(gettext("%(provider)s, %(day)s: %(lines)s lines on the statement, %(differences)s differences.",
                         provider=provider_name(body.provider), day=body.day.isoformat(), lines=check.lines,
                         differences=check.differences))


def _back(text: str, kind: str = "ok"):
    return flash(RedirectResponse("/operator/payments", status_code=303), text, kind)
