"""Demo top-ups of a vendor's prepaid wallet, from any page that shows the balance."""
import re
from dataclasses import dataclass
from decimal import Decimal

from fastapi import Request
from sqlmodel import Session
from starlette.responses import RedirectResponse, Response

from backend.core.config import Settings
from backend.core.errors import ScanPowerError
from backend.deps import Vendor
from backend.pages.display import yuan
from backend.pages.errors import PageDb, discard_work, page_router
from backend.pages.flash import flash
from backend.pages.forms import FormData, parse
from backend.pages.navigation import safe_next
from backend.pages.rendering import render
from backend.sessions import service as sessions
from backend.users.models import User
from billing.payments import service as payments
from billing.payments.models import MAX_TOP_UP, TopUp
from billing.wallet.service import wallet_balance

router = page_router()
REQUEST_KEY = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class WalletSummary:
    """A vendor's money as the pages show it."""

    balance: Decimal
    spendable: Decimal  # the balance less what open sessions may still spend
    minimum: Decimal  # needed to start a session

    @property
    def enough_to_start(self) -> bool:
        return self.spendable >= self.minimum


def wallet_summary(db: Session, vendor: User, settings: Settings) -> WalletSummary:
    return WalletSummary(wallet_balance(db, vendor.id), sessions.spendable_balance(db, vendor.id),
                         settings.min_start_balance)


@router.get("/wallet/top-up")
def top_up_form(request: Request, db: PageDb, vendor: Vendor, next: str = ""):
    """A page with just the top-up form (where a failed top-up is explained)."""
    return _form(request, db, vendor, safe_next(next) or "/me", amount="", error=None)


@router.post("/wallet/top-up")
def top_up(request: Request, form: FormData, db: PageDb, vendor: Vendor):
    """Add money through the payment provider, then go back to the page that asked."""
    back = safe_next(form.get("next")) or "/me"
    body, errors = parse(TopUp, form, ("amount",))
    if body is None:
        return _form(request, db, vendor, back, form.get("amount", ""), errors.get("amount"), 422)
    try:
        payments.top_up(db, vendor.id, body.amount, request.app.state.payment_provider,
                        idempotency_key=_page_key(vendor, form.get("request_key", "")))
    except ScanPowerError as exc:
        discard_work(db)
        return _form(request, db, vendor, back, form.get("amount", ""), exc.detail, exc.status_code)
    return flash(RedirectResponse(back, status_code=303), f"Added {yuan(body.amount)} to your balance.")


def _page_key(vendor: User, request_key: str) -> str | None:
    """The provider's idempotency key for the form that was rendered once (None if the form had no valid key)."""
    return f"topup-page:{vendor.id}:{request_key}" if REQUEST_KEY.fullmatch(request_key) else None


def _form(request: Request, db: Session, vendor: User, back: str, amount: str, error: str | None,
          status_code: int = 200) -> Response:
    return render(request, "top_up.html", status_code=status_code, user=vendor, next=back, amount=amount,
                  error=error, balance=wallet_balance(db, vendor.id), max_top_up=MAX_TOP_UP)
