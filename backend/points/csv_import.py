"""Points from a CSV file, each row checked as an application is: all of them go in, or none does."""
import csv
from dataclasses import dataclass
from typing import IO

from pydantic import ValidationError
from sqlmodel import Session, select

from backend.core.errors import ScanPowerError
from backend.points import service as points
from backend.points.models import MeteringPoint, PointApply
from backend.tariffs.models import Tariff
from backend.users.models import Role, User

APPLICATION = tuple(PointApply.model_fields)
REQUIRED = ("applicant_phone", *(n for n, f in PointApply.model_fields.items() if f.is_required()))
OPTIONAL = ("outlet_rated_current_a", "tariff")  # a tariff's code: the point is approved with it at once


@dataclass(frozen=True)
class RowError:
    line: int  # in the file, the header being line 1
    message: str


class ImportRefused(Exception):
    """At least one row is wrong; nothing was imported."""

    def __init__(self, errors: list[RowError]):
        super().__init__(f"{len(errors)} rows refused")
        self.errors = errors


def read_rows(text: IO[str]) -> list[tuple[int, dict[str, str]]]:
    """(line, row) for each row; ImportRefused when the header lacks a column."""
    reader = csv.DictReader(text)
    missing = [name for name in REQUIRED if name not in (reader.fieldnames or ())]
    if missing:
        raise ImportRefused([RowError(1, f"the header lacks {', '.join(missing)}")])
    return [(reader.line_num, row) for row in reader]


def import_points(db: Session, rows: list[tuple[int, dict[str, str]]], progress=lambda rows: rows
                  ) -> list[MeteringPoint]:
    """Apply for (and, with a tariff, approve) every row in this transaction; ImportRefused names every bad row.

    The caller commits only when this returns: a refusal leaves nothing behind.
    """
    made, errors = [], []
    for line, row in progress(rows):
        try:
            # Every refusal comes before the row writes anything; a database error ends the whole import.
            made.append(_import_row(db, row))
        except ValidationError as exc:
            errors += [RowError(line, f"{'.'.join(map(str, e['loc'])) or 'row'}: {e['msg']}") for e in exc.errors()]
        except (ScanPowerError, LookupError) as exc:
            errors.append(RowError(line, getattr(exc, "detail", None) or str(exc)))
    if errors:
        raise ImportRefused(errors)
    return made


def _import_row(db: Session, row: dict[str, str]) -> MeteringPoint:
    fields = {name: row[name].strip() for name in APPLICATION if (row.get(name) or "").strip()}
    body = PointApply.model_validate(fields)
    applicant = _applicant(db, (row.get("applicant_phone") or "").strip())
    point = points.apply_for_point(db, applicant, body)
    if code := (row.get("tariff") or "").strip():
        points.approve_point(db, point.id, _tariff(db, code).id)
    return point


def _applicant(db: Session, phone: str) -> User:
    user = db.exec(select(User).where(User.phone == phone)).first() if phone else None
    if user is None or user.role != Role.applicant:
        raise LookupError(f"no applicant has the phone number {phone!r}")
    return user


def _tariff(db: Session, code: str) -> Tariff:
    tariff = db.exec(select(Tariff).where(Tariff.code == code)).first()
    if tariff is None:
        raise LookupError(f"no tariff has the code {code!r}")
    return tariff
