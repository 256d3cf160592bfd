"""What the wallet pays for sessions: settlements, adjustments, card bills below the minimum — never below zero.

A charge takes from the wallet only what is free there (its balance less what open sessions and holds
reserve, decided by the caller under the wallet's lock). A charge that was reserved at Start always
finds its money; one that was not — a late reading's re-pricing, a session revived after its
reservation ended — may not, and the rest is owed (`billing.wallet.arrears`), in the same balanced entry.

    charge           wallet:<user> (what is free) + arrears:<user> (the rest)  -> revenue:electricity
    credit back      revenue:electricity -> wallet:<user>                         (a re-pricing downwards)
"""
from decimal import Decimal

from sqlmodel import Session, select

from billing.ledger import service as ledger
from billing.ledger.models import JournalEntry, LedgerAccount, Posting
from billing.wallet.arrears import ARREARS_KIND, arrears_account
from billing.wallet.cover import Cover, cover
from billing.wallet.service import lock_wallet, wallet_balance

ZERO = Decimal("0.00")


def charge_wallet(db: Session, user_id: int, key: str, kind: str, amount: Decimal, free: Decimal,
                  memo: str, session_id: int | None = None) -> Cover:
    """Debit `amount` to revenue: from the wallet as far as `free` and its balance allow, the rest owed; once a key."""
    wallet = lock_wallet(db, user_id)
    existing = ledger.find_entry(db, key)
    if existing is not None:
        return _cover_of(db, existing, user_id, amount)
    split = cover(amount, min(free, wallet_balance(db, user_id)))
    legs = [(wallet, -split.from_wallet), (ledger.account(db, ledger.REVENUE, "revenue"), amount)]
    if split.owed:
        legs.append((arrears_account(db, user_id), -split.owed))
        memo = f"{memo}; ¥{split.owed} more than the wallet had free, owed"
    ledger.post(db, key, kind, legs, memo[:255], session_id)
    return split


def charge_session(db: Session, user_id: int, session_id: int, amount: Decimal, free: Decimal) -> Cover:
    """Debit a settled session from the wallet to revenue; once per session."""
    return charge_wallet(db, user_id, f"settle:{session_id}", "settlement", amount, free,
                         f"session {session_id}", session_id)


def charge_adjustment(db: Session, user_id: int, session_id: int, difference: Decimal, key: str,
                      free: Decimal) -> Cover:
    """Post a settled session's correction: positive is charged (what is not free is owed), negative credited back."""
    memo = f"session {session_id}: re-priced after a late reading"
    if difference > 0:
        return charge_wallet(db, user_id, key, "adjustment", difference, free, memo, session_id)
    ledger.transfer(db, key, "adjustment", ledger.account(db, ledger.REVENUE, "revenue"), lock_wallet(db, user_id),
                    -difference, memo=memo, session_id=session_id)
    return Cover(ZERO, ZERO)


def _cover_of(db: Session, entry: JournalEntry, user_id: int, amount: Decimal) -> Cover:
    """A repeat of a charge already posted: how that one was split."""
    legs = db.exec(select(Posting.amount).join(LedgerAccount, Posting.account_id == LedgerAccount.id)
                   .where(Posting.entry_id == entry.id, LedgerAccount.kind == ARREARS_KIND)).all()
    owed_then = -sum(legs, ZERO)
    return Cover(amount - owed_then, owed_then)
