"""What the broker should hold for one username, read from the database at the moment it is applied."""
import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal, Protocol

from sqlmodel import Session, col, select

from backend.broker_accounts.models import AccountKind
from backend.dtu.models import DtuLink
from backend.points.models import Meter, MeteringPoint, PointStatus
from backend.sessions.models import OPEN_STATUSES, UsageSession

LIVE = (PointStatus.approved, PointStatus.active)


class Rule(Protocol):
    """One ACL rule, as device_gateway.broker_config's AccessPolicy states them."""

    access: Literal["read", "write"]
    topic: str


class Rules(Protocol):
    """Who may do what: AccessPolicy, passed in by whoever composes the process (services never import the
    gateway)."""

    def rules_for(self, username: str | None) -> tuple[Rule, ...]: ...


@dataclass(frozen=True)
class Account:
    """A meter's or DTU's account: its password and exactly the rules broker-config's ACL file gives it."""

    username: str
    password: str = field(repr=False)
    rules: tuple[Rule, ...]

    @property
    def fingerprint(self) -> str:
        """Changes when the password or a rule does (a digest; the password cannot be read back from it)."""
        text = "\n".join([self.username, self.password, *(f"{r.access} {r.topic}" for r in self.rules)])
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Desired:
    account: Account | None  # None: the broker must not know this username
    settled: bool = True  # False: only for now (a closed point's stops still under way); look again later


class Keep(StrEnum):
    yes = "yes"
    for_now = "for_now"
    no = "no"


def keeps_account(status: PointStatus, sessions_open: bool) -> Keep:
    """A live point's meter has its account; a closed or expired one keeps it only until its sessions have
    stopped (the stop order and the meter's stop record travel over it), then loses it."""
    if status in LIVE:
        return Keep.yes
    return Keep.for_now if sessions_open else Keep.no


def desired(db: Session, kind: AccountKind, username: str, policy: Rules) -> Desired:
    found = _meter_and_password(db, kind, username)
    if found is None:
        return Desired(None)
    meter, password = found
    point = db.get(MeteringPoint, meter.point_id)
    open_session = select(UsageSession.id).where(UsageSession.meter_id == meter.id,
                                                 col(UsageSession.status).in_(OPEN_STATUSES))
    keep = keeps_account(point.status, db.exec(open_session).first() is not None)
    if keep is Keep.no:
        return Desired(None)
    return Desired(Account(username, password, policy.rules_for(username)), settled=keep is Keep.yes)


def _meter_and_password(db: Session, kind: AccountKind, username: str) -> tuple[Meter, str] | None:
    if kind is AccountKind.meter:
        meter = db.exec(select(Meter).where(Meter.serial == username)).first()
        return (meter, meter.mqtt_password) if meter else None
    link = db.exec(select(DtuLink).where(DtuLink.dtu_id == username)).first()
    return (db.get(Meter, link.meter_id), link.mqtt_password) if link else None
