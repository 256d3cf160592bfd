"""A vendor's prepaid wallet: a ledger account whose balance is the money they can spend."""
from decimal import Decimal

from sqlmodel import Session

from billing.ledger import service as ledger
from billing.ledger.models import LedgerAccount


def wallet_account(db: Session, user_id: int) -> LedgerAccount:
    return ledger.account(db, _code(user_id), "vendor_wallet", user_id)


def lock_wallet(db: Session, user_id: int) -> LedgerAccount:
    """Hold the vendor's wallet until the transaction ends.

    Every operation that moves or commits a vendor's money takes this lock before it reads
    the balance, so no interleaving of starts, settlements, top-ups, withdrawals, refunds and
    holds can spend the same money twice. Lock order: a session's row first, then its wallet.
    """
    return ledger.locked_account(db, _code(user_id), "vendor_wallet", user_id)


def _code(user_id: int) -> str:
    return f"wallet:{user_id}"


def wallet_balance(db: Session, user_id: int) -> Decimal:
    """The balance; reading it writes nothing, even for a wallet never used."""
    found = ledger.find_account(db, _code(user_id))
    return ledger.balance(db, found) if found is not None else Decimal("0.00")
