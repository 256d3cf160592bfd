"""Service fee lines, billed apart from the energy price (价费分离)."""
from collections.abc import Sequence

from billing.pricing import energy_amount
from billing.tariffs.lines import BilledLine, ServiceFeeLine
from billing.tariffs.tariff import Tariff


def service_fee_lines(lines: Sequence[BilledLine], tariff: Tariff) -> list[ServiceFeeLine]:
    """The per-session fee of the version the session started in, then each version's per-kWh fee."""
    if not lines:
        return []
    fee_lines = _per_session(lines[0].version, tariff)
    for label, energy_wh in energy_by_version(lines).items():
        fee = tariff.version_labelled(label).service_fee
        if fee and fee.per_kwh:
            amount = energy_amount(energy_wh, fee.per_kwh)
            fee_lines.append(ServiceFeeLine(label, "per_kwh", energy_wh, fee.per_kwh, amount))
    return fee_lines


def energy_by_version(lines: Sequence[BilledLine]) -> dict[str, int]:
    """Energy per tariff version label, in the order the versions were used."""
    totals: dict[str, int] = {}
    for line in lines:
        totals[line.version] = totals.get(line.version, 0) + line.energy_wh
    return totals


def _per_session(label: str, tariff: Tariff) -> list[ServiceFeeLine]:
    fee = tariff.version_labelled(label).service_fee
    if not (fee and fee.per_session):
        return []
    return [ServiceFeeLine(label, "per_session", None, fee.per_session, fee.per_session)]
