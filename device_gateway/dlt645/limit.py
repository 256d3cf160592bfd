"""Pure limit enforcement for meters that cannot hold a session's limit themselves.

A plain DL/T 645 meter does not know what the vendor's money buys, so the bridge polls its register
and trips the relay early enough that the register cannot pass the cut-off before the trip lands.
docs/dlt645.md ("The energy limit") derives the margin; keep the two together.
"""
import math
from dataclasses import dataclass
from decimal import Decimal

# Loads may run this far above the outlet's rating before the meter's own overload trip (as the register rules).
OVERLOAD_TOLERANCE = Decimal("1.2")
REGISTER_STEP_WH = 10  # 0.01 kWh: the register may already hold up to this much more than it shows


@dataclass(frozen=True)
class PollTiming:
    """How long the bridge may take to see a register and to switch a relay, in seconds."""

    poll_interval_s: Decimal = Decimal("2")
    timeout_s: Decimal = Decimal("2.5")
    retries: int = 2
    # How long one poll takes besides the wait: the bridge uses the slowest of its last ten polls, at least this.
    read_budget_s: Decimal = Decimal("1")

    @property
    def exchange_s(self) -> Decimal:
        """The longest one request can take: its first try and every retry time out but the last answers."""
        return self.timeout_s * (self.retries + 1)

    @property
    def horizon_s(self) -> Decimal:
        """Longest time from one register reading to the trip landing: the wait and the rest of the poll, the next
        register read through every retry, and the trip through every retry."""
        return self.poll_interval_s + self.read_budget_s + 2 * self.exchange_s


def margin_wh(rated_power_w: Decimal, timing: PollTiming) -> int:
    """The worst-case overshoot: the outlet at its overload limit for the whole horizon, plus one register step."""
    drawn = rated_power_w * OVERLOAD_TOLERANCE * timing.horizon_s / 3600
    return math.ceil(drawn) + REGISTER_STEP_WH


def trip_now(register_wh: int, cutoff_wh: int, margin: int) -> bool:
    """Trip when the register is within the margin of the cut-off: it cannot pass the cut-off before the trip lands."""
    return register_wh + margin >= cutoff_wh


def over_power(power_w: Decimal, max_power_w: Decimal | None) -> bool:
    """What a v1 meter does on `configure` (docs/protocol.md): a sample 20 % above the outlet's limit opens it."""
    return max_power_w is not None and power_w > max_power_w * OVERLOAD_TOLERANCE
