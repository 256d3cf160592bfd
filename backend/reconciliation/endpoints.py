from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response
from sqlmodel import SQLModel

from backend.core.api_errors import SIGNED_IN, WITH_ROLE, ApiRoute, refusals
from backend.deps import CurrentUser, Id, Operator, SessionDep
from backend.points import service as points
from backend.reconciliation import daily, service
from backend.reconciliation.schemas import (
    PointReconciliationPublic,
    StatementPublic,
    UnattributedBillPublic,
    bill_public,
    reconciliation_public,
    statement_public,
)
from backend.reconciliation.statement_csv import csv_filename, statement_csv, vendor_labels

router = APIRouter(tags=["reconciliation"], route_class=ApiRoute)
READ_REFUSALS = (*SIGNED_IN, points.PointNotFound, service.InvalidPeriod, service.TariffNotInEffect)
BILL_REFUSALS = (*WITH_ROLE, points.PointNotFound, service.InvalidPeriod, service.TariffNotInEffect,
                 service.PointHasNoTariff, service.PeriodNotOver, service.OverlapsBilledPeriod,
                 service.EnergyClaimedBySession)
CSV = {200: {"content": {"text/csv": {"schema": {"type": "string"}}}}}
MONTH = r"^20\d{2}-(0[1-9]|1[0-2])$"  # service.month_period refuses months outside the service years
Start = Annotated[datetime, Query(description="Period start, in 2000–2100; without an offset it is Asia/Shanghai time")]
End = Annotated[datetime, Query(description="Period end (excluded); without an offset it is Asia/Shanghai time")]
Month = Annotated[str, Query(pattern=MONTH, description="A local month, YYYY-MM (Asia/Shanghai), 2000-01 to 2099-12")]


class DailyPublic(SQLModel):
    point_id: int
    day: date
    register_delta_wh: int
    session_energy_wh: int
    unattributed_wh: int
    gap_wh: int
    open_sessions: int
    mismatched_sessions: int
    anomalies: int
    balanced: bool
    note: str
    checked_at: datetime


class DailiesPublic(SQLModel):
    data: list[DailyPublic]
    count: int


@router.get("/reconciliation/unbalanced", response_model=DailiesPublic, responses=refusals(*WITH_ROLE))
def list_unbalanced_days(db: SessionDep, _: Operator,
                         since: Annotated[date, Query(ge=date(2000, 1, 1), le=date(2100, 12, 31),
                                                      description="The first local day to list")]
                         ) -> DailiesPublic:
    """Points whose daily reconciliation (the scheduler's, 01:30) did not balance, newest day first (operators)."""
    found = [DailyPublic.model_validate(row, from_attributes=True) for row in daily.unbalanced_days(db, since)]
    return DailiesPublic(data=found, count=len(found))


@router.get("/points/{point_id}/reconciliation", response_model=PointReconciliationPublic,
            responses=refusals(*READ_REFUSALS))
def read_reconciliation(point_id: Id, start: Start, end: End, db: SessionDep,
                        user: CurrentUser) -> PointReconciliationPublic:
    """Register delta = session energy + unattributed energy for the point in [start, end), with gaps explained."""
    point = points.visible_point(db, user, point_id)
    return reconciliation_public(service.reconcile(db, point.id, start, end))


@router.post("/points/{point_id}/reconciliation/bill", response_model=UnattributedBillPublic,
             responses=refusals(*BILL_REFUSALS))
def bill_unattributed(point_id: Id, start: Start, end: End, db: SessionDep,
                      operator: Operator) -> UnattributedBillPublic:
    """Bill the period's unattributed energy to the applicant, once; repeating it posts nothing."""
    return bill_public(service.bill_unattributed(db, point_id, start, end, actor=operator))


@router.get("/points/{point_id}/statement", response_model=StatementPublic, responses=refusals(*READ_REFUSALS))
def read_statement(point_id: Id, month: Month, db: SessionDep, user: CurrentUser) -> StatementPublic:
    """The point's monthly statement: sessions, energy, money collected, unattributed energy and any gap."""
    return statement_public(service.statement(db, points.visible_point(db, user, point_id), month))


@router.get("/points/{point_id}/statement.csv", response_class=Response,
            responses=CSV | refusals(*READ_REFUSALS))
def read_statement_csv(point_id: Id, month: Month, db: SessionDep, user: CurrentUser) -> Response:
    """The monthly statement as CSV (UTF-8 with BOM): one row per session naming point and vendor, then the totals."""
    found = service.statement(db, points.visible_point(db, user, point_id), month)
    return Response(statement_csv(found, vendor_labels(db, found)), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{csv_filename(found)}"'})
