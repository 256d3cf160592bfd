"""The printable monthly statement of a point, with the conservation line and any gap, and its CSV for Excel."""
from datetime import date

from fastapi import Request
from fastapi.responses import Response

from backend.core.clock import local_today
from backend.deps import CurrentUser, Id
from backend.pages.errors import PageDb, page_router
from backend.pages.i18n import N_, gettext
from backend.pages.rendering import render
from backend.points import service as points
from backend.reconciliation import service
from backend.reconciliation.statement_csv import CsvWords, csv_filename, statement_csv, vendor_labels

router = page_router()
MONTH_CHARS = 7
CSV_WORDS = CsvWords(
    header=(N_("Point"), N_("Session"), N_("Outlet"), N_("Vendor"), N_("Started"), N_("Ended"), N_("Energy (kWh)"),
            N_("Amount (yuan)")),
    session_energy=N_("TOTAL energy in sessions"), collected=N_("TOTAL money collected"),
    unattributed=N_("TOTAL energy outside sessions (billed to the applicant)"),
    register_delta=N_("TOTAL counted by the meter"), gap=N_("TOTAL gap"),
    water_in_sessions=N_("TOTAL water pumped in sessions (m³)"),
    water_outside=N_("TOTAL water pumped outside sessions (m³)"))


@router.get("/points/{point_id}/statement")
def statement_page(point_id: Id, request: Request, db: PageDb, user: CurrentUser, month: str | None = None):
    """One local month of a point: the applicant who owns it, or an operator (default: this month)."""
    point = points.visible_point(db, user, point_id)
    month = _month(month)
    found = service.statement(db, point, month)
    first = date.fromisoformat(f"{month}-01")
    return render(request, "statement_point.html", user=user, point=point, statement=found,
                  result=found.reconciliation, vendors=vendor_labels(db, found), previous_month=_shift(first, -1),
                  next_month=_shift(first, 1))


@router.get("/points/{point_id}/statement.csv")
def statement_csv_page(point_id: Id, db: PageDb, user: CurrentUser, month: str | None = None):
    """The month as CSV in the reader's language, for Excel (UTF-8 with BOM)."""
    found = service.statement(db, points.visible_point(db, user, point_id), _month(month))
    words = CsvWords(tuple(gettext(h) for h in CSV_WORDS.header),
                     *(gettext(getattr(CSV_WORDS, name)) for name in ("session_energy", "collected", "unattributed",
                                                                       "register_delta", "gap", "water_in_sessions",
                                                                       "water_outside")))
    return Response(statement_csv(found, vendor_labels(db, found), words), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{csv_filename(found)}"'})


def _month(month: str | None) -> str:
    return (month or local_today().strftime("%Y-%m"))[:MONTH_CHARS]


def _shift(first: date, months: int) -> str:
    index = first.year * 12 + first.month - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"
