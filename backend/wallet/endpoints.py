from fastapi import APIRouter, Request

from backend.deps import SessionDep, Vendor
from backend.idempotency import IdempotencyKey, once
from backend.wallet import service
from billing.payments import service as payments
from billing.payments.models import TopUp, WalletPublic, Withdrawal
from billing.wallet.service import wallet_balance

router = APIRouter(tags=["wallet"])


@router.get("/wallet", response_model=WalletPublic)
def read_wallet(db: SessionDep, vendor: Vendor) -> WalletPublic:
    """The vendor's prepaid balance in yuan."""
    return WalletPublic(balance=wallet_balance(db, vendor.id))


@router.post("/wallet/top-ups", response_model=WalletPublic, status_code=201)
def top_up(body: TopUp, request: Request, db: SessionDep, vendor: Vendor,
           idempotency_key: IdempotencyKey = None) -> WalletPublic:
    """Add money to the wallet through the configured payment provider (once per Idempotency-Key)."""
    def act() -> WalletPublic:
        payments.top_up(db, vendor.id, body.amount, request.app.state.payment_provider,
                        idempotency_key=f"topup:{vendor.id}:{idempotency_key}" if idempotency_key else None)
        return WalletPublic(balance=wallet_balance(db, vendor.id))
    return once(db, vendor.id, idempotency_key, "top_up", body, WalletPublic, act)


@router.post("/wallet/withdrawals", response_model=WalletPublic, status_code=201)
def withdraw_balance(body: Withdrawal, request: Request, db: SessionDep, vendor: Vendor,
                     idempotency_key: IdempotencyKey = None) -> WalletPublic:
    """Send wallet money back to the card(s) it came from (余额原路退回); default: all that is free.

    Once per Idempotency-Key; money that open sessions may still spend stays in the wallet."""
    def act() -> WalletPublic:
        service.withdraw(db, vendor.id, body.amount, request.app.state.payment_provider)
        return WalletPublic(balance=wallet_balance(db, vendor.id))
    return once(db, vendor.id, idempotency_key, "withdrawal", body, WalletPublic, act)
