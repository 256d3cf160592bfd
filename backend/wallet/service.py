"""Taking money out of the wallet: only what open sessions do not still need, decided under the wallet's lock."""
from decimal import Decimal

from sqlmodel import Session

from backend.core.errors import Conflict
from backend.sessions.reservations import spendable_balance
from billing.payments.providers import Providers
from billing.payments.withdrawals import WithdrawalOutcome
from billing.payments.withdrawals import withdraw as send_back
from billing.wallet.service import lock_wallet


class NotThatMuchToWithdraw(Conflict):
    pass


def withdraw(db: Session, vendor_id: int, amount: Decimal | None, providers: Providers) -> WithdrawalOutcome:
    """Send `amount` (None: all that is free) back the way it came; what went where."""
    lock_wallet(db, vendor_id)
    free = spendable_balance(db, vendor_id)
    amount = free if amount is None else amount
    if amount <= 0 or amount > free:
        raise NotThatMuchToWithdraw(f"¥{max(free, Decimal('0.00'))} is free to withdraw "
                                    f"(open sessions keep what they may still spend)")
    return send_back(db, vendor_id, amount, providers)
