"""Broker accounts follow the database: a change is recorded in its own transaction, the broker told after commit.

`note_*` runs inside the approval's, re-issue's, closing's or commissioning's transaction and only bumps a
version. `reconcile` (the scheduled job, and the provisioner right after each commit) locks pending rows,
reads what each account should be now, tells the broker and records what it applied. A failure stays
pending and is tried again; nothing is lost if a process dies in between.
"""
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from backend.broker_accounts import wake
from backend.broker_accounts.desired import Desired, Rules, desired
from backend.broker_accounts.interface import BrokerAccounts, BrokerUnavailable, Change
from backend.broker_accounts.models import AccountKind, BrokerAccount
from backend.core import metrics
from backend.core.clock import utcnow
from backend.dtu.models import DtuLink
from backend.points.models import Meter

log = logging.getLogger(__name__)
BATCH = 100  # rows locked and applied per transaction
TABLE = BrokerAccount.__table__


def note_meter(db: Session, serial: str) -> None:
    """The meter's account must change (new, new password, point closed): tell the broker after commit."""
    _note(db, AccountKind.meter, serial)


def note_dtu(db: Session, dtu_id: str) -> None:
    _note(db, AccountKind.dtu, dtu_id)


def note_meter_and_dtu(db: Session, meter: Meter) -> None:
    note_meter(db, meter.serial)
    if link := db.exec(select(DtuLink).where(DtuLink.meter_id == meter.id)).first():
        note_dtu(db, link.dtu_id)


def note_everyone(db: Session) -> int:
    """Every meter and DTU again (a broker that lost its accounts, or one switched to live accounts)."""
    names = [(AccountKind.meter, s) for s in db.exec(select(Meter.serial))]
    names += [(AccountKind.dtu, d) for d in db.exec(select(DtuLink.dtu_id))]
    for kind, username in names:
        _note(db, kind, username, force=True)
    return len(names)


def _note(db: Session, kind: AccountKind, username: str, force: bool = False) -> None:
    insert = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    now = utcnow()
    values = {"version": TABLE.c.version + 1, "changed_at": now}
    if force:
        values["applied_fingerprint"] = None  # do not trust what the broker is believed to hold
    db.execute(insert(TABLE).values(username=username, kind=kind.value, version=1, applied_version=0,
                                    applied_present=False, attempts=0, changed_at=now)
               .on_conflict_do_update(index_elements=[TABLE.c.username], set_=values))
    wake.after_commit(db)


@dataclass(frozen=True)
class Plan:
    row: BrokerAccount
    version: int
    want: Desired

    @property
    def needs_broker(self) -> bool:
        """An account already applied with the same password and rules is left alone (a repeat kicks no one)."""
        account = self.want.account
        if account is None:
            return True  # removing is cheap and idempotent; a broker that never had it says so
        return not (self.row.applied_present and self.row.applied_fingerprint == account.fingerprint)


def pending(db: Session, limit: int = BATCH) -> list[BrokerAccount]:
    """Rows waiting for the broker, oldest change first, locked; rows another process is applying are skipped."""
    query = (select(BrokerAccount).where(col(BrokerAccount.version) > col(BrokerAccount.applied_version))
             .order_by(col(BrokerAccount.changed_at)).limit(limit).with_for_update(skip_locked=True))
    return list(db.exec(query))


@dataclass(frozen=True)
class Batch:
    taken: int  # rows locked and looked at
    settled: int  # rows whose change the broker now holds for good


def reconcile(db: Session, broker: BrokerAccounts, policy: Rules, limit: int = BATCH) -> Batch:
    """Apply one batch of pending rows to the broker and record what it holds."""
    plans = [Plan(row, row.version, desired(db, AccountKind(row.kind), row.username, policy))
             for row in pending(db, limit)]
    changes = [Change(p.row.username, p.want.account) for p in plans if p.needs_broker]
    try:
        errors = broker.apply(changes) if changes else {}
    except BrokerUnavailable as exc:
        log.warning("broker accounts: %d changes wait for the broker: %s", len(changes), exc)
        metrics.broker_account_changes.labels("unreachable").inc(len(changes))
        errors = {change.username: f"broker unavailable: {exc}" for change in changes}
    sent = {change.username for change in changes}
    settled = 0
    for plan in plans:
        error = errors.get(plan.row.username)
        if error is None:
            settled += _applied(plan, plan.row.username in sent)
        else:
            _failed(plan.row, error)
    db.flush()
    return Batch(len(plans), settled)


def _applied(plan: Plan, sent: bool) -> int:
    row, account = plan.row, plan.want.account
    row.applied_present = account is not None
    row.applied_fingerprint = account.fingerprint if account else None
    row.attempts, row.last_error, row.applied_at = 0, None, utcnow()
    if sent:
        metrics.broker_account_changes.labels("applied").inc()
    if not plan.want.settled:
        row.changed_at = utcnow()  # looked at again later, behind the others
        return 0
    row.applied_version = plan.version
    return 1


def _failed(row: BrokerAccount, error: str) -> None:
    row.attempts += 1
    row.last_error = error[:255]
    row.changed_at = utcnow()  # behind the others, so that one bad account cannot hold up the rest
    metrics.broker_account_changes.labels("failed").inc()
    log.warning("broker account %s not applied (attempt %d): %s", row.username, row.attempts, error)


def reconcile_all(db_factory: Callable[[], AbstractContextManager[Session]], broker: BrokerAccounts,
                  policy: Rules) -> int:
    """Batch after batch, each in a transaction of its own, while full batches make progress; rows settled."""
    total = 0
    while True:
        with db_factory() as db:
            batch = reconcile(db, broker, policy)
        total += batch.settled
        if batch.taken < BATCH or batch.settled == 0:
            return total


def reconcile_backlog(db: Session, broker: BrokerAccounts, policy: Rules, rounds: int = 20) -> int:
    """The scheduled job: batches in one transaction while full ones make progress; rows settled."""
    total = 0
    for _ in range(rounds):
        batch = reconcile(db, broker, policy)
        total += batch.settled
        if batch.taken < BATCH or batch.settled == 0:
            break
    return total


def pending_count(db: Session) -> int:
    return db.exec(select(func.count()).select_from(BrokerAccount)
                   .where(col(BrokerAccount.version) > col(BrokerAccount.applied_version))).one()
