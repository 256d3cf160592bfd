"""A vendor's wallet on the pages: top up with presets or any amount, and take the free balance back the way it came."""
from dataclasses import dataclass
from decimal import Decimal

from fastapi import Request
from pydantic import BaseModel
from sqlmodel import Session
from starlette.responses import RedirectResponse, Response

from backend.core.config import Settings
from backend.core.errors import ScanPowerError
from backend.deps import SettingsDep, Vendor
from backend.idempotency import once
from backend.pages.client_app import app_of
from backend.pages.display import yuan
from backend.pages.errors import PageDb, discard_work, page_router
from backend.pages.flash import flash
from backend.pages.form_keys import page_key
from backend.pages.forms import FormData, parse
from backend.pages.i18n import gettext
from backend.pages.navigation import safe_next
from backend.pages.payment_choices import chosen, top_up_offer
from backend.pages.paying import ask_for_top_up, hand_over
from backend.pages.refusals import refusal_text
from backend.pages.rendering import render
from backend.payments.schemas import TopUpRequest
from backend.sessions.reservations import spendable_balance
from backend.users.models import User
from backend.wallet import service as wallet_service
from billing.payments import service as payments
from billing.payments.interface import PaymentProvider
from billing.payments.models import MAX_TOP_UP, TopUp, Withdrawal
from billing.payments.providers import PROVIDER_OF, PaymentMethodUnavailable, PayWith
from billing.wallet.arrears import owed
from billing.wallet.service import wallet_balance

router = page_router()
FIELD_CHARS = 40  # what the form shows back of a typed amount


@dataclass(frozen=True)
class WalletSummary:
    """A vendor's money as the pages show it."""

    balance: Decimal
    spendable: Decimal  # the balance less what open sessions and holds may still charge, and what is owed
    minimum: Decimal  # needed to start a session
    owed: Decimal = Decimal("0.00")  # arrears: charged after the fact beyond what the wallet had free

    @property
    def enough_to_start(self) -> bool:
        return self.spendable >= self.minimum

    @property
    def withdrawable(self) -> Decimal:
        return max(self.spendable, Decimal("0.00"))


def wallet_summary(db: Session, vendor: User, settings: Settings) -> WalletSummary:
    spendable = max(spendable_balance(db, vendor.id), Decimal("0.00"))
    return WalletSummary(wallet_balance(db, vendor.id), spendable, settings.min_start_balance, owed(db, vendor.id))


@router.get("/wallet/top-up")
def top_up_form(request: Request, db: PageDb, vendor: Vendor, next: str = ""):
    """A page with just the top-up form (where a failed top-up is explained)."""
    return _form(request, db, vendor, safe_next(next) or "/me", amount="", error=None)


@router.post("/wallet/top-up")
def top_up(request: Request, form: FormData, db: PageDb, vendor: Vendor, settings: SettingsDep):
    """Add money through the chosen payment provider, then go back to the page that asked."""
    back = safe_next(form.get("next")) or "/me"
    amount = form.get("preset") or form.get("amount", "")
    body, errors = parse(TopUp, {"amount": amount}, ("amount",))
    if body is None:
        return _form(request, db, vendor, back, amount[:FIELD_CHARS], errors.get("amount"), 422,
                     form.get("pay_with", ""))
    try:
        provider = _provider(request, form.get("pay_with"))
        if not provider.capabilities.instant:
            asked = ask_for_top_up(request, db, vendor, TopUpRequest(amount=body.amount, provider=_pay_with(provider)),
                                   provider, form.get("request_key", ""))
            return hand_over(request, settings, asked, back)
        payments.top_up(db, vendor.id, body.amount, provider,
                        idempotency_key=page_key("topup", vendor, form.get("request_key", "")))
    except ScanPowerError as exc:
        discard_work(db)
        return _form(request, db, vendor, back, amount[:FIELD_CHARS], refusal_text(exc), exc.status_code,
                     form.get("pay_with", ""))
    return flash(RedirectResponse(back, status_code=303),
                 gettext("Added %(amount)s to your balance.", amount=yuan(body.amount)))


def _provider(request: Request, pay_with: str | None) -> PaymentProvider:
    """The provider of the choice the form sent; the default one where the page offers no choice (the demo)."""
    choices = top_up_offer(request.app.state.payments, app_of(request.headers.get("user-agent")))
    if choices is None:
        raise PaymentMethodUnavailable("nothing configured here takes a top-up in this browser")
    if not choices:
        return request.app.state.payment_provider  # the demo: there is no choice to make
    choice = chosen(choices, pay_with or choices[0].code)
    if choice is None:
        raise PaymentMethodUnavailable("the form chose a way of paying this page does not offer")
    return request.app.state.payments.chosen(PayWith(choice.code))


def _pay_with(provider: PaymentProvider) -> PayWith:
    return next(w for w, name in PROVIDER_OF.items() if name == provider.name)


@router.get("/wallet/withdraw")
def withdraw_form(request: Request, db: PageDb, vendor: Vendor, settings: SettingsDep):
    """What a withdrawal of the whole free balance sends back, and where, before it is sent."""
    return render(request, "withdraw.html", user=vendor, wallet=wallet_summary(db, vendor, settings))


@router.post("/wallet/withdraw")
def withdraw(request: Request, form: FormData, db: PageDb, vendor: Vendor, settings: SettingsDep):
    """Send the whole free balance back the way it came (余额原路退回)."""
    key = page_key("withdraw", vendor, form.get("request_key", ""))
    try:
        sent = _withdraw_once(db, vendor, key, request.app.state.payments)
    except ScanPowerError as exc:
        discard_work(db)
        return render(request, "withdraw.html", status_code=exc.status_code, user=vendor,
                      wallet=wallet_summary(db, vendor, settings), error=refusal_text(exc))
    return flash(RedirectResponse("/me", status_code=303),
                 gettext("%(amount)s is on its way back the way it came.", amount=yuan(sent)))


class Sent(BaseModel):
    amount: Decimal


def _withdraw_once(db: Session, vendor: User, key: str | None, providers) -> Decimal:
    """One withdrawal per rendered form: a second tap of the same form sends nothing more."""
    def act() -> Sent:
        return Sent(amount=wallet_service.withdraw(db, vendor.id, None, providers).sent)
    return once(db, vendor.id, key, "withdrawal_page", Withdrawal(), Sent, act).amount


def _form(request: Request, db: Session, vendor: User, back: str, amount: str, error: str | None,
          status_code: int = 200, pay_with: str = "") -> Response:
    choices = top_up_offer(request.app.state.payments, app_of(request.headers.get("user-agent")))
    return render(request, "top_up.html", status_code=status_code, user=vendor, next=back, amount=amount,
                  error=error, balance=wallet_balance(db, vendor.id), max_top_up=MAX_TOP_UP, pay_choices=choices,
                  pay_with=pay_with)
