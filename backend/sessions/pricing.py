"""Pure pricing of one session: safe energy from the register rules, priced per tariff period."""
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from backend.meters.register_rules import WHOLE_WH, Anomaly, EnergyVerdict, Reading, RegisterModel, billable_energy
from billing.budget import cap_bill
from billing.tariffs import BilledLine, ServiceFeeLine, Tariff, bill_total, service_fee_lines, split_by_tariff_period
from billing.tariffs import valley_equivalent as valley_cost


@dataclass(frozen=True)
class SessionBill:
    energy_wh: int
    lines: tuple[BilledLine, ...]
    fees: tuple[ServiceFeeLine, ...]
    anomalies: tuple[Anomaly, ...]
    needs_review: bool
    cap: Decimal = Decimal("0.00")  # knocked off so the bill stays within the most the session could cost

    @property
    def energy_amount(self) -> Decimal:
        return bill_total(self.lines)

    @property
    def fee_amount(self) -> Decimal:
        return bill_total(self.fees)

    @property
    def total(self) -> Decimal:
        return bill_total([*self.lines, *self.fees]) - self.cap


def price_session(readings: Sequence[Reading], tariff: Tariff, rated_power_w: Decimal,
                  max_amount: Decimal | None = None, register: RegisterModel = WHOLE_WH) -> SessionBill:
    """Bill the session from its start reading to its stop reading; every line rounded once.

    With `max_amount` (what the session could cost at most, fixed at Start), a total that
    per-line rounding took above it is capped there.
    """
    verdict = billable_energy(readings, rated_power_w, **register.options())
    lines = split_by_tariff_period(billed_series(readings, verdict), tariff)
    fees = service_fee_lines(lines, tariff)
    cap = cap_bill(bill_total([*lines, *fees]), max_amount)
    return SessionBill(verdict.billable_wh, tuple(lines), tuple(fees), verdict.anomalies, verdict.needs_review, cap)


def billed_series(readings: Sequence[Reading], verdict: EnergyVerdict) -> list[tuple[datetime, int]]:
    """(time, Wh billed so far) at each accepted reading: non-decreasing in both, whatever the meter did."""
    start = readings[0].time
    series, billed, latest = [(start, 0)], 0, start
    for index, energy in verdict.billed_steps:
        billed += energy
        latest = max(latest, readings[index].time)
        series.append((latest, billed))
    return series if len(series) > 1 else [(start, 0), (start, 0)]


def price_so_far(start: datetime, start_wh: int, now: datetime, now_wh: int, tariff: Tariff) -> Decimal:
    """The running cost shown while a session is open (energy and per-kWh fees)."""
    lines = split_by_tariff_period([(start, 0), (max(start, now), max(now_wh - start_wh, 0))], tariff)
    return bill_total([*lines, *service_fee_lines(lines, tariff)])


def valley_equivalent(bill: SessionBill, tariff: Tariff) -> Decimal:
    return valley_cost(list(bill.lines), tariff)
