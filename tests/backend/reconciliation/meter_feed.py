"""A meter driven through the services as the gateway drives it, keeping its own account of every Wh."""
from collections import defaultdict
from datetime import datetime
from decimal import Decimal

from sqlmodel import Session

from backend.meters.orders import pending_orders
from backend.meters.service import OutletSample
from backend.meters.ingest import record_telemetry
from backend.points.models import Meter, Outlet
from backend.sessions import meter_events
from backend.sessions import service as sessions
from backend.sessions.models import UsageSession
from backend.users.models import User


class MeterFeed:
    """Registers per outlet; `use` draws energy, `report` sends telemetry, `start`/`stop` ack sessions.

    `truth` records where each Wh went — the session open on the outlet, or nobody — and the local
    month it was drawn in, so a test can compare the reconciliation with what really happened.
    """

    def __init__(self, db: Session, meter: Meter, outlets: list[Outlet], register_wh: int = 10_000,
                 boot_id: str = "boot-1"):
        self.db, self.meter, self.boot_id = db, meter, boot_id
        self.outlets = {o.channel: o for o in outlets}
        self.registers = {o.channel: register_wh for o in outlets}
        self.open: dict[int, UsageSession] = {}
        self.seq = 0
        self.truth: dict[str, int] = defaultdict(int)  # "session" / "unattributed" -> Wh

    def use(self, channel: int, energy_wh: int) -> None:
        self.registers[channel] += energy_wh
        self.truth["session" if channel in self.open else "unattributed"] += energy_wh

    def report(self, at: datetime, channels: list[int] | None = None) -> None:
        samples = [OutletSample(ch, self.registers[ch], 0.0, 230.0, 0.0, True,
                                self.open[ch].id if ch in self.open else None)
                   for ch in (channels or sorted(self.outlets))]
        record_telemetry(self.db, self.meter, self.boot_id, self._next_seq(), at, samples)

    def start(self, vendor: User, channel: int, at: datetime) -> UsageSession:
        session = sessions.start_session(self.db, vendor, self.outlets[channel].qr_token, Decimal("1.00"), 30)
        pending_orders(self.db)
        meter_events.command_acknowledged(self.db, self.meter, session.start_cmd_id, "close", True, None,
                                      self.registers[channel], at, self.boot_id, self._next_seq())
        self.open[channel] = session
        return session

    def stop(self, channel: int, at: datetime) -> UsageSession:
        session = self.open.pop(channel)
        sessions.request_stop(self.db, self.db.get(User, session.vendor_id), session.id, 30)
        pending_orders(self.db)
        meter_events.command_acknowledged(self.db, self.meter, session.stop_cmd_id, "open", True, None,
                                      self.registers[channel], at, self.boot_id, self._next_seq())
        return session

    def reboot(self, boot_id: str, channel: int, register_wh: int) -> None:
        """The meter restarts (or is replaced) and the outlet's register starts again from register_wh."""
        self.boot_id = boot_id
        self.registers[channel] = register_wh

    def _next_seq(self) -> int:
        self.seq += 1
        return self.seq
