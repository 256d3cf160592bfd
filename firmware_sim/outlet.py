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
    max_power_w: float | None = None  # set by the platform's Configure; the meter trips above it
    ended: OrderedDict[int, int] = field(default_factory=OrderedDict)
    # What each ended session really drew, in register Wh summed over every boot it spanned.
    metered: OrderedDict[int, int] = field(default_factory=OrderedDict)
    # Wh the open session drew on registers that were since reset, and where the current counter began.
    _carried_wh: int = 0
    _counted_from_wh: int | None = None

    @property
    def register_wh(self) -> int:
        return math.floor(self.energy_wh)

    def close(self, session_id: int, limit_wh: int | None, now: datetime) -> int:
        """Switch on for a session; return the start register, which keeps any fraction counted."""
        self.relay = "closed"
        self.session_id = session_id
        self.start_wh = self._counted_from_wh = self.register_wh
        self._carried_wh = 0
        self.cutoff_wh = None if limit_wh is None else self.start_wh + limit_wh
        self.closed_at = now
        self.sample_power(now)
        return self.start_wh

    def open(self) -> int:
        """Switch off and remember the session as ended; return the stop register."""
        stop_wh = self.register_wh
        if self.session_id is not None:
            _remember(self.ended, self.session_id, stop_wh)
            _remember(self.metered, self.session_id, self.session_wh)
        self.relay = "open"
        self.power_w = 0.0
        self.session_id = self.start_wh = self.cutoff_wh = self.closed_at = self._counted_from_wh = None
        self._carried_wh = 0
        return stop_wh

    def refuse_later(self, session_id: int) -> int:
        """An open for a session this outlet is not serving: that session may never start here; the register."""
        _remember(self.ended, session_id, self.register_wh)
        return self.register_wh

    @property
    def session_wh(self) -> int:
        """Register Wh the open session has drawn so far, across register resets; 0 without a session."""
        if self._counted_from_wh is None:
            return 0
        return self._carried_wh + self.register_wh - self._counted_from_wh

    def reset_register(self) -> None:
        """The register restarts at 0 (new firmware, replaced counter); an open session keeps its allowance."""
        if self._counted_from_wh is not None:
            self._carried_wh = self.session_wh
            self._counted_from_wh = 0
        if self.cutoff_wh is not None:
            self.cutoff_wh = max(self.cutoff_wh - self.register_wh, 0)
        self.energy_wh = 0.0

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


def _remember(memory: OrderedDict[int, int], session_id: int, value: int) -> None:
    memory[session_id] = value
    if len(memory) > REMEMBERED_SESSIONS:
        memory.popitem(last=False)
