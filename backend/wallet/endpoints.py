from fastapi import APIRouter, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlmodel import Session

from backend.core.api_errors import WITH_ROLE, ApiRoute, refusals
from backend.deps import SessionDep, Vendor
from backend.idempotency import IdempotencyKey, once
from backend.payments import views
from backend.payments.deps import Payments, payer_of
from backend.payments.schemas import PaymentRequestPublic, TopUpRequest, WithdrawalPublic
from backend.payments.service import request_top_up
from backend.wallet import service
from billing.idempotency.service import IdempotencyKeyReused
from billing.payments import service as payments_service
from billing.payments.interface import PaymentDeclined, PaymentServiceUnavailable
from billing.payments.models import WalletPublic, Withdrawal
from billing.payments.providers import PaymentMethodUnavailable
from billing.payments.withdrawals import CannotWithdraw
from billing.wallet.arrears import owed
from billing.wallet.service import wallet_balance

router = APIRouter(tags=["wallet"], route_class=ApiRoute)
IN_APP = {202: {"model": PaymentRequestPublic,
                "description": "WeChat Pay or Alipay: confirm in the app with `pay_params`; the wallet is credited "
                               "when the provider notifies us"}}


def wallet_public(db: Session, vendor_id: int) -> WalletPublic:
    return WalletPublic(balance=wallet_balance(db, vendor_id), owed=owed(db, vendor_id))


@router.get("/wallet", response_model=WalletPublic, responses=refusals(*WITH_ROLE))
def read_wallet(db: SessionDep, vendor: Vendor) -> WalletPublic:
    """The vendor's prepaid balance in yuan, and what they owe."""
    return wallet_public(db, vendor.id)


@router.post("/wallet/top-ups", response_model=WalletPublic, status_code=201,
             responses={**IN_APP, **refusals(*WITH_ROLE, PaymentDeclined, PaymentServiceUnavailable,
                                             PaymentMethodUnavailable, IdempotencyKeyReused)})
def top_up(body: TopUpRequest, request: Request, db: SessionDep, vendor: Vendor, payments: Payments,
           idempotency_key: IdempotencyKey = None):
    """Add money to the wallet: by card at once (201), or through WeChat Pay / Alipay (202: confirm in the app).

    Once per Idempotency-Key."""
    provider = payments.chosen(body.provider)
    key = f"topup:{vendor.id}:{idempotency_key}" if idempotency_key else None
    if not provider.capabilities.instant:
        def ask() -> PaymentRequestPublic:
            return views.requested_public(request_top_up(db, vendor, body.amount, provider,
                                                         payer_of(request, body.openid), key))
        asked = once(db, vendor.id, idempotency_key, "top_up", body, PaymentRequestPublic, ask)
        return JSONResponse(jsonable_encoder(asked), status_code=202)

    def act() -> WalletPublic:
        payments_service.top_up(db, vendor.id, body.amount, provider, idempotency_key=key)
        return wallet_public(db, vendor.id)
    return once(db, vendor.id, idempotency_key, "top_up", body, WalletPublic, act)


@router.post("/wallet/withdrawals", response_model=WithdrawalPublic, status_code=201,
             responses=refusals(*WITH_ROLE, service.NotThatMuchToWithdraw, CannotWithdraw, PaymentServiceUnavailable,
                                IdempotencyKeyReused))
def withdraw_balance(body: Withdrawal, db: SessionDep, vendor: Vendor, payments: Payments,
                     idempotency_key: IdempotencyKey = None) -> WithdrawalPublic:
    """Send wallet money back to the payments it came from (余额原路退回): card, WeChat Pay, Alipay, newest first.

    Default: all that is free. Once per Idempotency-Key; money that open sessions may still spend stays in the
    wallet, and so does any part a provider refuses to refund (listed as `failed`)."""
    def act() -> WithdrawalPublic:
        outcome = service.withdraw(db, vendor.id, body.amount, payments)
        return WithdrawalPublic(balance=wallet_balance(db, vendor.id), sent=outcome.sent,
                                refunds=[views.refund_public(r) for r in outcome.refunds])
    return once(db, vendor.id, idempotency_key, "withdrawal", body, WithdrawalPublic, act)
