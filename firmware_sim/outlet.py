"""One outlet of a meter: its relay, its energy register and the session it serves."""
import math
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from firmware_sim.loads import LoadProfile

REMEMBERED_SESSIONS = 32


@dataclass
class OutletState:
    """Counts energy finer than a Wh internally; everything reported is the floored register."""

    ch: int
    load: LoadProfile | None = None
    energy_wh: float = 0.0
    relay: Literal["closed", "open"] = "open"
    power_w: float = 0.0
    session_id: int | None = None
    start_wh: int | None = None
    cutoff_wh: int | None = None
    closed_at: datetime | None = None
    ended: OrderedDict[int, int] = field(default_factory=OrderedDict)

    @property
    def register_wh(self) -> int:
        return math.floor(self.energy_wh)

    def close(self, session_id: int, limit_wh: int | None, now: datetime) -> int:
        """Switch on for a session; return the start register, which keeps any fraction counted."""
        self.relay = "closed"
        self.session_id = session_id
        self.start_wh = self.register_wh
        self.cutoff_wh = None if limit_wh is None else self.start_wh + limit_wh
        self.closed_at = now
        self.sample_power(now)
        return self.start_wh

    def open(self) -> int:
        """Switch off and remember the session as ended; return the stop register."""
        stop_wh = self.register_wh
        if self.session_id is not None:
            self.ended[self.session_id] = stop_wh
            if len(self.ended) > REMEMBERED_SESSIONS:
                self.ended.popitem(last=False)
        self.relay = "open"
        self.power_w = 0.0
        self.session_id = self.start_wh = self.cutoff_wh = self.closed_at = None
        return stop_wh

    def count_energy(self, seconds: float) -> bool:
        """Add the energy drawn at the current power; True when the session's cut-off is reached."""
        if self.relay == "open":
            return False
        counted = self.energy_wh + self.power_w * seconds / 3600
        if self.cutoff_wh is not None and counted >= self.cutoff_wh:
            # The relay opens the moment the limit is hit, so the register stops exactly there.
            self.energy_wh = max(self.energy_wh, float(self.cutoff_wh))
            return True
        self.energy_wh = counted
        return False

    def sample_power(self, now: datetime) -> None:
        """Read the load's power; it is held until the next sample."""
        if self.relay == "open" or self.load is None or self.closed_at is None:
            self.power_w = 0.0
            return
        self.power_w = self.load.power_w((now - self.closed_at).total_seconds())
