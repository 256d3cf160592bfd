"""An account's movements, newest first: what a vendor's wallet history shows."""
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlmodel import Session, select

from billing.ledger.models import JournalEntry, LedgerAccount, Posting


@dataclass(frozen=True)
class Movement:
    at: datetime
    kind: str  # the journal entry's kind: top_up, settlement, adjustment, session_refund, withdrawal…
    amount: Decimal  # into the account (+) or out of it (−)
    session_id: int | None
    balance_after: Decimal
    key: str = ""  # the entry's idempotency key: names the payment or refund behind it (topup:…, refund:…)


def movements(db: Session, account: LedgerAccount | None, limit: int = 50) -> list[Movement]:
    """The latest `limit` postings of the account with the balance after each, newest first."""
    if account is None:
        return []
    query = (select(JournalEntry.created_at, JournalEntry.kind, Posting.amount, JournalEntry.session_id,
                    JournalEntry.idempotency_key)
             .join(JournalEntry, Posting.entry_id == JournalEntry.id)
             .where(Posting.account_id == account.id).order_by(Posting.id))
    rows = list(db.exec(query))
    found, balance = [], Decimal("0.00")
    for at, kind, amount, session_id, key in rows:
        balance += amount
        found.append(Movement(at, kind, amount, session_id, balance, key))
    return found[::-1][:limit]
