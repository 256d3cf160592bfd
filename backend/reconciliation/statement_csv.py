"""A monthly statement as CSV: one row per settled session, then the totals rows; kWh and yuan, local times."""
import csv
import io
from datetime import datetime
from decimal import Decimal

from backend.core.clock import LOCAL_TZ
from backend.reconciliation.service import Statement

HEADER = ("session_id", "outlet", "vendor_id", "started", "ended", "energy_kwh", "amount_yuan")
TOTAL_SESSION_ENERGY = "TOTAL session energy"
TOTAL_COLLECTED = "TOTAL money collected"
TOTAL_UNATTRIBUTED = "TOTAL unattributed energy"
TOTAL_REGISTER_DELTA = "TOTAL register delta"
TOTAL_GAP = "TOTAL gap"


def statement_csv(found: Statement) -> str:
    result = found.reconciliation
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    for s in result.settled_sessions:
        writer.writerow((s.session_id, s.channel, s.vendor_id, _local(s.started_at), _local(s.ended_at),
                         kwh(s.settled_wh), s.amount))
    writer.writerow(_total(TOTAL_SESSION_ENERGY, kwh(result.session_energy_wh)))
    writer.writerow(_total(TOTAL_COLLECTED, amount=result.collected))
    writer.writerow(_total(TOTAL_UNATTRIBUTED, kwh(result.unattributed_wh), result.unattributed_amount))
    writer.writerow(_total(TOTAL_REGISTER_DELTA, kwh(result.register_delta_wh)))
    writer.writerow(_total(TOTAL_GAP, kwh(result.gap_wh)))
    if found.session_water_m3 is not None:
        writer.writerow(_total("TOTAL water pumped in sessions (m³, 以电折水)", f"{found.session_water_m3}"))
    if found.unattributed_water_m3 is not None:
        writer.writerow(_total("TOTAL water pumped outside sessions (m³)", f"{found.unattributed_water_m3}"))
    return out.getvalue()


def kwh(energy_wh: int) -> str:
    """Whole Wh as kWh with three decimals: exact, never rounded."""
    return f"{Decimal(energy_wh) / 1000:.3f}"


def _total(label: str, energy: str = "", amount: Decimal | None = None) -> tuple[str, ...]:
    return (label, "", "", "", "", energy, "" if amount is None else str(amount))


def _local(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone(LOCAL_TZ).isoformat(timespec="seconds")


def csv_filename(found: Statement) -> str:
    return f"statement-point-{found.point.id}-{found.month}.csv"
