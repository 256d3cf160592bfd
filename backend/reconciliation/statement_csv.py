"""A monthly statement as CSV that opens correctly in Excel: UTF-8 with a BOM, the point and each vendor named.

One row per settled session, then the totals rows; kWh and yuan, local times. The words (headers and
total labels) come in: English for the API, the reader's language on the pages.
"""
import csv
import io
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlmodel import Session, select

from backend.core.clock import LOCAL_TZ
from backend.reconciliation.service import Statement
from backend.users.models import User

BOM = "\ufeff"  # Excel reads a CSV as UTF-8 only when it starts with one


@dataclass(frozen=True)
class CsvWords:
    header: tuple[str, ...]
    session_energy: str
    collected: str
    unattributed: str
    register_delta: str
    gap: str
    water_in_sessions: str
    water_outside: str


ENGLISH = CsvWords(
    header=("point", "session_id", "outlet", "vendor", "started", "ended", "energy_kwh", "amount_yuan"),
    session_energy="TOTAL session energy", collected="TOTAL money collected",
    unattributed="TOTAL unattributed energy", register_delta="TOTAL register delta", gap="TOTAL gap",
    water_in_sessions="TOTAL water pumped in sessions (m³)", water_outside="TOTAL water pumped outside sessions (m³)")
HEADER = ENGLISH.header
TOTAL_SESSION_ENERGY = ENGLISH.session_energy
TOTAL_COLLECTED = ENGLISH.collected
TOTAL_UNATTRIBUTED = ENGLISH.unattributed
TOTAL_REGISTER_DELTA = ENGLISH.register_delta
TOTAL_GAP = ENGLISH.gap


def vendor_label(user: User | None) -> str:
    """A vendor as a statement names them: their name, else their phone number with the middle hidden."""
    if user is None:
        return ""
    if user.name:
        return user.name
    return user.phone[:3] + "****" + user.phone[-4:] if len(user.phone) >= 8 else user.phone


def vendor_labels(db: Session, found: Statement) -> dict[int, str]:
    """How the statement names each of its vendors."""
    ids = {s.vendor_id for s in found.reconciliation.settled_sessions}
    return {user.id: vendor_label(user) for user in db.exec(select(User).where(User.id.in_(ids)))} if ids else {}


def statement_csv(found: Statement, vendors: dict[int, str], words: CsvWords = ENGLISH) -> str:
    result = found.reconciliation
    point = found.point.name
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(words.header)
    for s in result.settled_sessions:
        writer.writerow((point, s.session_id, s.channel, vendors.get(s.vendor_id, s.vendor_id), _local(s.started_at),
                         _local(s.ended_at), kwh(s.settled_wh), s.amount))
    writer.writerow(_total(point, words.session_energy, kwh(result.session_energy_wh)))
    writer.writerow(_total(point, words.collected, amount=result.collected))
    writer.writerow(_total(point, words.unattributed, kwh(result.unattributed_wh), result.unattributed_amount))
    writer.writerow(_total(point, words.register_delta, kwh(result.register_delta_wh)))
    writer.writerow(_total(point, words.gap, kwh(result.gap_wh)))
    if found.session_water_m3 is not None:
        writer.writerow(_total(point, words.water_in_sessions, f"{found.session_water_m3}"))
    if found.unattributed_water_m3 is not None:
        writer.writerow(_total(point, words.water_outside, f"{found.unattributed_water_m3}"))
    return out.getvalue()


def kwh(energy_wh: int) -> str:
    """Whole Wh as kWh with three decimals: exact, never rounded."""
    return f"{Decimal(energy_wh) / 1000:.3f}"


def _total(point: str, label: str, energy: str = "", amount: Decimal | None = None) -> tuple[str, ...]:
    return (point, label, "", "", "", "", energy, "" if amount is None else str(amount))


def _local(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone(LOCAL_TZ).isoformat(timespec="seconds")


def csv_filename(found: Statement) -> str:
    return f"statement-point-{found.point.id}-{found.month}.csv"
