"""Double-entry postings: every journal entry sums to zero; each is written once per key."""
from decimal import Decimal

from sqlalchemy import func
from sqlmodel import Session, select

from backend.core.rows import insert_once, lock_row
from billing.ledger.models import JournalEntry, LedgerAccount, Posting

REVENUE = "revenue:electricity"
DEMO_CLEARING = "clearing:demo"


class UnbalancedEntry(ValueError):
    pass


def find_account(db: Session, code: str) -> LedgerAccount | None:
    return db.exec(select(LedgerAccount).where(LedgerAccount.code == code)).first()


def account(db: Session, code: str, kind: str, user_id: int | None = None) -> LedgerAccount:
    """The account with this code, created on first use (by one of any number of racing transactions)."""
    found = find_account(db, code)
    if found is None:
        insert_once(db, LedgerAccount(code=code, kind=kind, user_id=user_id), "code")
        found = find_account(db, code)
    return found


def locked_account(db: Session, code: str, kind: str, user_id: int | None = None) -> LedgerAccount:
    """The account, held until the transaction ends: decisions about its money are made one at a time."""
    found = account(db, code, kind, user_id)
    lock_row(db, LedgerAccount, found.id)
    return found


def post(db: Session, key: str, kind: str, legs: list[tuple[LedgerAccount, Decimal]],
         memo: str = "", session_id: int | None = None) -> JournalEntry:
    """Write a balanced entry once; a repeat with the same key returns the first one."""
    existing = find_entry(db, key)
    if existing is not None:
        return existing
    if sum((amount for _, amount in legs), Decimal(0)) != 0:
        raise UnbalancedEntry(f"entry {key} does not balance: {legs}")
    written = insert_once(db, JournalEntry(idempotency_key=key, kind=kind, memo=memo, session_id=session_id),
                          "idempotency_key")
    entry = find_entry(db, key)
    if not written:
        return entry  # another transaction wrote this key between our look and our insert
    for acct, amount in legs:
        db.add(Posting(entry_id=entry.id, account_id=acct.id, amount=amount))
    db.flush()
    return entry


def find_entry(db: Session, key: str) -> JournalEntry | None:
    return db.exec(select(JournalEntry).where(JournalEntry.idempotency_key == key)).first()


def transfer(db: Session, key: str, kind: str, source: LedgerAccount, target: LedgerAccount,
             amount: Decimal, memo: str = "", session_id: int | None = None) -> JournalEntry:
    """Move `amount` from `source` to `target`."""
    return post(db, key, kind, [(source, -amount), (target, amount)], memo, session_id)


def balance(db: Session, acct: LedgerAccount) -> Decimal:
    total = db.exec(select(func.sum(Posting.amount)).where(Posting.account_id == acct.id)).one()
    return Decimal(total or 0).quantize(Decimal("0.01"))


def ledger_total(db: Session) -> Decimal:
    """The sum of every posting ever made; zero when the books balance."""
    total = db.exec(select(func.sum(Posting.amount))).one()
    return Decimal(total or 0)
