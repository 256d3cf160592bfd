"""Arrears (欠费): what a vendor owes when a charge after the fact found too little free in the wallet.

Posted by `billing.wallet.charges`; collected from the wallet as soon as money is free there (the next
top-up, the end of a session that had it reserved). Until then it is not spendable.

    collection       wallet:<user> -> arrears:<user>
"""
from decimal import Decimal

from sqlmodel import Session

from billing.ledger import service as ledger
from billing.ledger.models import LedgerAccount
from billing.wallet.cover import collectable
from billing.wallet.service import lock_wallet, wallet_balance

ZERO = Decimal("0.00")
ARREARS_KIND = "vendor_arrears"


def arrears_account(db: Session, user_id: int) -> LedgerAccount:
    """Money the vendor owes us; its balance is negative by what is owed."""
    return ledger.account(db, _code(user_id), ARREARS_KIND, user_id)


def owed(db: Session, user_id: int) -> Decimal:
    """What the vendor owes now; reading it writes nothing."""
    found = ledger.find_account(db, _code(user_id))
    return -ledger.balance(db, found) if found is not None else ZERO


def collect(db: Session, user_id: int, free: Decimal, key: str) -> Decimal:
    """Pay off arrears from `free` wallet money, decided under the wallet's lock; what was collected."""
    wallet = lock_wallet(db, user_id)
    amount = collectable(owed(db, user_id), min(free, wallet_balance(db, user_id)))
    if amount:
        ledger.transfer(db, key, "arrears_collected", wallet, arrears_account(db, user_id), amount,
                        memo="arrears paid from the wallet 欠费从余额扣回")
    return amount


def _code(user_id: int) -> str:
    return f"arrears:{user_id}"
