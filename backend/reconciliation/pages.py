"""The printable monthly statement of a point, with the conservation line and any gap."""
from datetime import date

from fastapi import Request

from backend.core.clock import local_today
from backend.deps import CurrentUser, Id
from backend.pages.errors import PageDb, page_router
from backend.pages.rendering import render
from backend.points import service as points
from backend.reconciliation import service

router = page_router()


@router.get("/points/{point_id}/statement")
def statement_page(point_id: Id, request: Request, db: PageDb, user: CurrentUser, month: str | None = None):
    """One local month of a point: the applicant who owns it, or an operator (default: this month)."""
    point = points.visible_point(db, user, point_id)
    month = month or local_today().strftime("%Y-%m")
    found = service.statement(db, point, month)
    first = date.fromisoformat(f"{month}-01")
    return render(request, "statement_point.html", user=user, point=point, statement=found,
                  result=found.reconciliation, previous_month=_shift(first, -1), next_month=_shift(first, 1))


def _shift(first: date, months: int) -> str:
    index = first.year * 12 + first.month - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"
