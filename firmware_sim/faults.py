"""Faults a simulated meter can show: what rural 4G links and real meters do to the platform."""
import random
from dataclasses import dataclass

Window = tuple[float, float]
UPLINK_KINDS = frozenset({"telemetry", "ack", "event"})


@dataclass(frozen=True)
class Faults:
    """Times are seconds since the fleet started; rates are shares of uplink messages."""

    drop_rate: float = 0.0  # the publish is skipped: the message never leaves the meter
    duplicate_rate: float = 0.0  # the message is published twice
    clock_skew_s: float = 0.0  # the meter's clock runs this far ahead (behind when negative)
    offline_windows: tuple[Window, ...] = ()  # (from, until): no network, the meter buffers
    register_resets_at: tuple[float, ...] = ()  # a new boot_id and every register back to 0
    lossy_kinds: frozenset[str] = UPLINK_KINDS  # which uplink kinds the drop and duplicate rates hit

    def __post_init__(self):
        if not self.lossy_kinds <= UPLINK_KINDS:
            raise ValueError(f"lossy_kinds are among {sorted(UPLINK_KINDS)}, not {sorted(self.lossy_kinds)}")
        for name in ("drop_rate", "duplicate_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} is a share between 0 and 1, not {getattr(self, name)}")
        for start, end in self.offline_windows:
            if not 0 <= start < end:
                raise ValueError(f"an offline window runs forward from 0 s or later, not ({start}, {end})")

    def offline_at(self, elapsed_s: float) -> bool:
        return any(start <= elapsed_s < end for start, end in self.offline_windows)

    def resets_between(self, after_s: float, until_s: float) -> int:
        """How many register resets fall in (after_s, until_s]."""
        return sum(1 for at in self.register_resets_at if after_s < at <= until_s)


NO_FAULTS = Faults()


class FaultDice:
    """Decides, reproducibly per meter, which messages are lost or repeated."""

    def __init__(self, faults: Faults, seed: int | str):
        self.faults = faults
        self._rng = random.Random(f"faults:{seed}")

    def copies(self, kind: str) -> int:
        """How many times to publish the next message of this kind: 0 (lost), 1, or 2 (duplicated)."""
        if kind not in self.faults.lossy_kinds:
            return 1
        if self.faults.drop_rate and self._rng.random() < self.faults.drop_rate:
            return 0
        if self.faults.duplicate_rate and self._rng.random() < self.faults.duplicate_rate:
            return 2
        return 1
