from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from backend.deps import CurrentUser, Id, Operator, SessionDep
from backend.points import service as points
from backend.reconciliation import service
from backend.reconciliation.schemas import (
    PointReconciliationPublic,
    StatementPublic,
    UnattributedBillPublic,
    bill_public,
    reconciliation_public,
    statement_public,
)
from backend.reconciliation.statement_csv import csv_filename, statement_csv

router = APIRouter(tags=["reconciliation"])
MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"
Start = Annotated[datetime, Query(description="Period start; without an offset it is Asia/Shanghai time")]
End = Annotated[datetime, Query(description="Period end (excluded); without an offset it is Asia/Shanghai time")]
Month = Annotated[str, Query(pattern=MONTH, description="A local month, YYYY-MM (Asia/Shanghai)")]


@router.get("/points/{point_id}/reconciliation", response_model=PointReconciliationPublic)
def read_reconciliation(point_id: Id, start: Start, end: End, db: SessionDep,
                        user: CurrentUser) -> PointReconciliationPublic:
    """Register delta = session energy + unattributed energy for the point in [start, end), with gaps explained."""
    point = points.visible_point(db, user, point_id)
    return reconciliation_public(service.reconcile(db, point.id, start, end))


@router.post("/points/{point_id}/reconciliation/bill", response_model=UnattributedBillPublic)
def bill_unattributed(point_id: Id, start: Start, end: End, db: SessionDep, _: Operator) -> UnattributedBillPublic:
    """Bill the period's unattributed energy to the applicant, once; repeating it posts nothing."""
    return bill_public(service.bill_unattributed(db, point_id, start, end))


@router.get("/points/{point_id}/statement", response_model=StatementPublic)
def read_statement(point_id: Id, month: Month, db: SessionDep, user: CurrentUser) -> StatementPublic:
    """The point's monthly statement: sessions, energy, money collected, unattributed energy and any gap."""
    return statement_public(service.statement(db, points.visible_point(db, user, point_id), month))


@router.get("/points/{point_id}/statement.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}}}})
def read_statement_csv(point_id: Id, month: Month, db: SessionDep, user: CurrentUser) -> Response:
    """The monthly statement as CSV: one row per session, then the totals."""
    found = service.statement(db, points.visible_point(db, user, point_id), month)
    return Response(statement_csv(found), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{csv_filename(found)}"'})
