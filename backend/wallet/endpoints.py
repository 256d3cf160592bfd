from fastapi import APIRouter, Request

from backend.deps import SessionDep, Vendor
from billing.payments import service as payments
from billing.payments.models import TopUp, WalletPublic
from billing.wallet.service import wallet_balance

router = APIRouter(tags=["wallet"])


@router.get("/wallet", response_model=WalletPublic)
def read_wallet(db: SessionDep, vendor: Vendor) -> WalletPublic:
    """The vendor's prepaid balance in yuan."""
    return WalletPublic(balance=wallet_balance(db, vendor.id))


@router.post("/wallet/top-ups", response_model=WalletPublic, status_code=201)
def top_up(body: TopUp, request: Request, db: SessionDep, vendor: Vendor) -> WalletPublic:
    """Add money to the wallet through the configured payment provider."""
    payments.top_up(db, vendor.id, body.amount, request.app.state.payment_provider)
    return WalletPublic(balance=wallet_balance(db, vendor.id))
