"""What the reconciliation API returns; energy in whole Wh, money in yuan, times as ISO instants."""
from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, Field

from backend.reconciliation.service import (
    PointReconciliation,
    SessionCheck,
    Statement,
    UnattributedBill,
)
from backend.sessions.models import SessionStatus


class SessionCheckPublic(BaseModel):
    session_id: int
    outlet_id: int
    channel: int
    vendor_id: int
    status: SessionStatus
    started_at: datetime
    ended_at: datetime | None
    measured_wh: int = Field(description="What the outlet's readings show for the session")
    settled_wh: int | None = Field(description="What the session was settled for; null while it is open")
    amount: Decimal | None
    gap_wh: int
    reason: str


class AnomalyPublic(BaseModel):
    channel: int
    session_id: int | None = Field(description="The session the step belongs to; null when none was open")
    at: datetime
    kind: str
    reason: str


class OutletReconciliationPublic(BaseModel):
    outlet_id: int
    channel: int
    register_delta_wh: int
    session_energy_wh: int
    unattributed_wh: int
    gap_wh: int


class UnattributedLinePublic(BaseModel):
    period: str
    version: str
    energy_wh: int
    price_per_kwh: Decimal
    amount: Decimal
    starts_at: datetime
    ends_at: datetime


class UnattributedBillPublic(BaseModel):
    point_id: int
    start: datetime
    end: datetime
    idempotency_key: str
    entry_id: int
    amount: Decimal
    memo: str
    billed_at: datetime
    new: bool = Field(description="False when the period had been billed already; nothing was posted again")


class PointReconciliationPublic(BaseModel):
    """register_delta_wh = session_energy_wh + unattributed_wh + gap_wh; every gap is listed with its reason."""

    point_id: int
    start: datetime
    end: datetime
    register_delta_wh: int
    session_energy_wh: int = Field(description="Settled energy of the sessions that ended in the period")
    unattributed_wh: int = Field(description="Energy used while no session was open; the applicant's")
    gap_wh: int
    balanced: bool
    collected: Decimal = Field(description="Money settled for the sessions that ended in the period")
    unattributed_amount: Decimal
    unattributed_lines: list[UnattributedLinePublic]
    outlets: list[OutletReconciliationPublic]
    sessions: list[SessionCheckPublic]
    gaps: list[SessionCheckPublic]
    anomalies: list[AnomalyPublic]


class StatementPublic(BaseModel):
    point_id: int
    point_name: str
    month: str
    start: datetime
    end: datetime
    sessions: list[SessionCheckPublic] = Field(description="Sessions that ended in the month, settled")
    session_energy_wh: int
    collected: Decimal
    unattributed_wh: int
    unattributed_amount: Decimal
    register_delta_wh: int
    gap_wh: int
    balanced: bool
    gaps: list[SessionCheckPublic]
    unattributed_bill: UnattributedBillPublic | None
    session_water_m3: Decimal | None = Field(default=None, description="Water pumped in sessions (以电折水)")
    unattributed_water_m3: Decimal | None = None


def session_check_public(check: SessionCheck) -> SessionCheckPublic:
    return SessionCheckPublic(session_id=check.session_id, outlet_id=check.outlet_id, channel=check.channel,
                              vendor_id=check.vendor_id, status=check.status, started_at=check.started_at,
                              ended_at=check.ended_at, measured_wh=check.measured_wh, settled_wh=check.settled_wh,
                              amount=check.amount, gap_wh=check.gap_wh, reason=check.reason)


def reconciliation_public(result: PointReconciliation) -> PointReconciliationPublic:
    return PointReconciliationPublic(
        point_id=result.point_id, start=result.start, end=result.end, register_delta_wh=result.register_delta_wh,
        session_energy_wh=result.session_energy_wh, unattributed_wh=result.unattributed_wh, gap_wh=result.gap_wh,
        balanced=result.balanced, collected=result.collected, unattributed_amount=result.unattributed_amount,
        unattributed_lines=[UnattributedLinePublic(period=line.period, version=line.version, energy_wh=line.energy_wh,
                                                   price_per_kwh=line.price_per_kwh, amount=line.amount,
                                                   starts_at=line.start, ends_at=line.end)
                            for line in result.unattributed_lines],
        outlets=[OutletReconciliationPublic(outlet_id=o.outlet_id, channel=o.channel,
                                            register_delta_wh=o.register_delta_wh, session_energy_wh=o.settled_wh,
                                            unattributed_wh=o.unattributed_wh, gap_wh=o.gap_wh)
                 for o in result.outlets],
        sessions=[session_check_public(s) for s in result.sessions],
        gaps=[session_check_public(s) for s in result.gaps],
        anomalies=[AnomalyPublic(channel=channel, session_id=a.owner, at=a.at, kind=a.kind.value, reason=a.reason)
                   for channel, a in result.anomalies])


def bill_public(bill: UnattributedBill) -> UnattributedBillPublic:
    return UnattributedBillPublic(point_id=bill.point_id, start=bill.start, end=bill.end,
                                  idempotency_key=bill.idempotency_key, entry_id=bill.entry_id, amount=bill.amount,
                                  memo=bill.memo, billed_at=bill.billed_at, new=bill.new)


def statement_public(found: Statement) -> StatementPublic:
    result = found.reconciliation
    return StatementPublic(
        point_id=found.point.id, point_name=found.point.name, month=found.month, start=result.start, end=result.end,
        sessions=[session_check_public(s) for s in result.settled_sessions],
        session_energy_wh=result.session_energy_wh, collected=result.collected,
        unattributed_wh=result.unattributed_wh, unattributed_amount=result.unattributed_amount,
        register_delta_wh=result.register_delta_wh, gap_wh=result.gap_wh, balanced=result.balanced,
        gaps=[session_check_public(s) for s in result.gaps],
        unattributed_bill=bill_public(found.bill) if found.bill else None,
        session_water_m3=found.session_water_m3, unattributed_water_m3=found.unattributed_water_m3)
