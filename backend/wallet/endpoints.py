from fastapi import APIRouter, Request

from backend.core.api_errors import WITH_ROLE, ApiRoute, refusals
from backend.core.errors import Conflict
from backend.deps import SessionDep, Vendor
from backend.sessions.service import spendable_balance
from billing.payments import service as payments
from billing.payments.models import TopUp, WalletPublic, Withdrawal
from billing.payments.service import PaymentDeclined
from billing.payments.withdrawals import CannotWithdraw, withdraw
from billing.wallet.service import wallet_balance

router = APIRouter(tags=["wallet"], route_class=ApiRoute)


@router.get("/wallet", response_model=WalletPublic, responses=refusals(*WITH_ROLE))
def read_wallet(db: SessionDep, vendor: Vendor) -> WalletPublic:
    """The vendor's prepaid balance in yuan."""
    return WalletPublic(balance=wallet_balance(db, vendor.id))


@router.post("/wallet/top-ups", response_model=WalletPublic, status_code=201,
             responses=refusals(*WITH_ROLE, PaymentDeclined))
def top_up(body: TopUp, request: Request, db: SessionDep, vendor: Vendor) -> WalletPublic:
    """Add money to the wallet through the configured payment provider."""
    payments.top_up(db, vendor.id, body.amount, request.app.state.payment_provider)
    return WalletPublic(balance=wallet_balance(db, vendor.id))


class NotThatMuchToWithdraw(Conflict):
    pass


@router.post("/wallet/withdrawals", response_model=WalletPublic, status_code=201,
             responses=refusals(*WITH_ROLE, NotThatMuchToWithdraw, CannotWithdraw))
def withdraw_balance(body: Withdrawal, request: Request, db: SessionDep, vendor: Vendor) -> WalletPublic:
    """Send wallet money back to the card(s) it came from (余额原路退回); default: all that is free."""
    free = spendable_balance(db, vendor.id)
    amount = free if body.amount is None else body.amount
    if amount <= 0 or amount > free:
        raise NotThatMuchToWithdraw(f"¥{free} is free to withdraw (open sessions keep what they may still spend)")
    withdraw(db, vendor.id, amount, request.app.state.payment_provider)
    return WalletPublic(balance=wallet_balance(db, vendor.id))
