"""One simulated smart meter with relays: a state machine driven by the caller's clock."""
import itertools
import random
import secrets
from collections import OrderedDict
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Literal

from device_gateway.protocol import (
    MAX_OUTLETS,
    Ack,
    Command,
    Message,
    OutletReading,
    Configure,
    SessionEnded,
    Status,
    Telemetry,
    timestamp,
)
from firmware_sim.loads import LoadProfile
from firmware_sim.outlet import OutletState

NOMINAL_VOLTAGE_V = 220.0
VOLTAGE_SPREAD_V = 3.0
DEADLINE_PASSED = "deadline passed"


# Like a breaker's tolerance: a load this much above its limit trips (the register rules use the same 1.2).
TRIP_FACTOR = 1.2
REPEAT_UNCONFIRMED = timedelta(seconds=10)


class SimulatedMeter:
    """Meters energy, switches relays on commands and returns the uplink messages it would send."""

    def __init__(
        self,
        serial: str,
        channels: int,
        boot_id: str | None = None,
        loads: Mapping[int, LoadProfile] | None = None,
        registers_wh: Mapping[int, float] | None = None,
        seed: int | str | None = None,
        remembered_commands: int = 256,
    ):
        if not 1 <= channels <= MAX_OUTLETS:
            raise ValueError(f"a meter has 1 to {MAX_OUTLETS} outlets, not {channels}")
        loads, registers_wh = loads or {}, registers_wh or {}
        self.serial = serial
        self.boot_id = boot_id or secrets.token_hex(8)
        self.outlets = {
            ch: OutletState(ch, loads.get(ch), float(registers_wh.get(ch, 0.0)))
            for ch in range(1, channels + 1)
        }
        self._seq = itertools.count()
        self._acks: OrderedDict[str, Ack] = OrderedDict()
        self._remembered_commands = remembered_commands
        self._rng = random.Random(serial if seed is None else seed)
        self._last: datetime | None = None
        self.max_total_power_w: float | None = None
        # Stop records the platform has not confirmed yet: re-sent until it does (docs/protocol.md).
        self._unconfirmed: dict[int, tuple[SessionEnded, datetime]] = {}
        # Stop records are repeated only while connected; offline, the stored record waits in the backlog.
        self.connected = True

    def register_wh(self, ch: int) -> int:
        return self.outlets[ch].register_wh

    @property
    def any_relay_closed(self) -> bool:
        return any(o.relay == "closed" for o in self.outlets.values())

    @property
    def awaiting_confirmation(self) -> bool:
        return bool(self._unconfirmed)

    def advance(self, now: datetime) -> list[Message]:
        """Count the energy since the last call; cut sessions at their limit or on overload; repeat stop records."""
        seconds = 0.0 if self._last is None else max(0.0, (now - self._last).total_seconds())
        self._last = now if self._last is None else max(self._last, now)
        messages: list[Message] = []
        for outlet in self.outlets.values():
            if outlet.count_energy(seconds):
                messages.append(self._end(outlet, now, "limit_reached"))
            outlet.sample_power(now)
        messages += [self._end(outlet, now, "overload") for outlet in self._overloaded()]
        return messages + self._repeat_unconfirmed(now)

    def _overloaded(self) -> list[OutletState]:
        """Outlets over their own limit, then the biggest loads until the point is under its capacity."""
        closed = [o for o in self.outlets.values() if o.relay == "closed"]
        tripped = [o for o in closed if o.max_power_w and o.power_w > o.max_power_w * TRIP_FACTOR]
        rest = sorted((o for o in closed if o not in tripped), key=lambda o: o.power_w, reverse=True)
        total = sum(o.power_w for o in rest)
        while self.max_total_power_w and rest and total > self.max_total_power_w * TRIP_FACTOR:
            biggest = rest.pop(0)
            tripped.append(biggest)
            total -= biggest.power_w
        return tripped

    def _repeat_unconfirmed(self, now: datetime) -> list[Message]:
        if not self.connected:
            return []
        due = [sid for sid, (_, at) in self._unconfirmed.items() if now >= at + REPEAT_UNCONFIRMED]
        for sid in due:
            self._unconfirmed[sid] = (self._unconfirmed[sid][0], now)
        return [self._unconfirmed[sid][0] for sid in due]

    def lose_supply(self, now: datetime) -> list[Message]:
        """The point's supply fails: every running session ends (`power_loss`); relays stay open when it returns."""
        messages = self.advance(now)
        return messages + [self._end(o, now, "power_loss") for o in self.outlets.values() if o.session_id is not None]

    def configure(self, limits: Configure) -> None:
        """Take the platform's power limits; they apply from the next sample."""
        for limit in limits.outlets:
            if limit.ch in self.outlets:
                self.outlets[limit.ch].max_power_w = limit.max_power_w
        self.max_total_power_w = limits.max_total_power_w

    def handle_command(self, cmd: Command | Configure, now: datetime) -> list[Message]:
        """Act on a command once per cmd_id; a repeat gets the first answer again."""
        messages = self.advance(now)
        if isinstance(cmd, Configure):
            self.configure(cmd)  # idempotent, not acknowledged: the platform sends it at every reconnect
            return messages
        if cmd.action == "confirm_end":
            self._unconfirmed.pop(cmd.session_id, None)
            return messages
        if cmd.cmd_id in self._acks:
            self._acks.move_to_end(cmd.cmd_id)
            return [*messages, self._acks[cmd.cmd_id].model_copy(update={"seq": next(self._seq)})]
        ack = self._execute(cmd, now)
        if ack.reason != DEADLINE_PASSED:
            # A command that came too late did nothing, so a fresh copy of it (the platform re-sends
            # stops with the same cmd_id and a new deadline) must still be able to act.
            self._remember(ack)
        return [*messages, ack]

    def reset_register(self, now: datetime) -> list[Message]:
        """Restart like a replaced or re-flashed meter: a new boot_id, seq and every register from 0.

        Relays and sessions survive (they live in flash), and so does what each session may still draw.
        """
        messages = self.advance(now)
        self.boot_id = secrets.token_hex(8)
        self._seq = itertools.count()
        for outlet in self.outlets.values():
            outlet.reset_register()
        return messages

    def metered_wh(self, session_id: int) -> int | None:
        """Ground truth: the register Wh a session drew on this meter (so far, if it is still open)."""
        for outlet in self.outlets.values():
            if outlet.session_id == session_id:
                return outlet.session_wh
            if session_id in outlet.metered:
                return outlet.metered[session_id]
        return None

    def telemetry(self, now: datetime) -> Telemetry:
        voltage = round(NOMINAL_VOLTAGE_V + self._rng.uniform(-VOLTAGE_SPREAD_V, VOLTAGE_SPREAD_V), 1)
        readings = [_reading(o, voltage) for o in self.outlets.values()]
        return Telemetry(boot_id=self.boot_id, seq=next(self._seq), ts=timestamp(now), outlets=readings)

    def status(self, state: Literal["online", "offline"], now: datetime | None = None) -> Status:
        return Status(state=state, boot_id=self.boot_id, ts=timestamp(now) if now else None)

    def _remember(self, ack: Ack) -> None:
        self._acks[ack.cmd_id] = ack
        if len(self._acks) > self._remembered_commands:
            self._acks.popitem(last=False)

    def _execute(self, cmd: Command, now: datetime) -> Ack:
        outlet = self.outlets.get(cmd.ch)
        # Too late to switch on (the vendor may have left); never too late to switch off.
        if cmd.action == "close" and cmd.deadline < now:
            return self._ack(cmd, now, outlet.register_wh if outlet else 0, DEADLINE_PASSED)
        if outlet is None:
            return self._ack(cmd, now, 0, "no such channel")
        if cmd.action == "close":
            return self._close(cmd, outlet, now)
        return self._open(cmd, outlet, now)

    def _close(self, cmd: Command, outlet: OutletState, now: datetime) -> Ack:
        if outlet.session_id == cmd.session_id:
            return self._ack(cmd, now, outlet.start_wh)
        if outlet.session_id is not None:
            return self._ack(cmd, now, outlet.register_wh, "outlet busy")
        if cmd.session_id in outlet.ended:
            return self._ack(cmd, now, outlet.register_wh, "session ended")
        return self._ack(cmd, now, outlet.close(cmd.session_id, cmd.energy_limit_wh, now))

    def _open(self, cmd: Command, outlet: OutletState, now: datetime) -> Ack:
        if outlet.session_id == cmd.session_id:
            return self._ack(cmd, now, outlet.open())
        if cmd.session_id in outlet.ended:
            return self._ack(cmd, now, outlet.ended[cmd.session_id])
        return self._ack(cmd, now, outlet.refuse_later(cmd.session_id))

    def _ack(self, cmd: Command, now: datetime, energy_wh: int, reason: str | None = None) -> Ack:
        return Ack(
            cmd_id=cmd.cmd_id,
            action=cmd.action,
            ch=cmd.ch,
            session_id=cmd.session_id,
            result="rejected" if reason else "ok",
            reason=reason,
            energy_wh=energy_wh,
            boot_id=self.boot_id,
            seq=next(self._seq),
            ts=timestamp(now),
        )

    def _end(self, outlet: OutletState, now: datetime, reason: str) -> SessionEnded:
        record = SessionEnded(
            ch=outlet.ch,
            session_id=outlet.session_id,
            reason=reason,
            energy_wh=outlet.open(),
            boot_id=self.boot_id,
            seq=next(self._seq),
            ts=timestamp(now),
        )
        self._unconfirmed[record.session_id] = (record, now)
        return record


def _reading(outlet: OutletState, voltage_v: float) -> OutletReading:
    return OutletReading(
        ch=outlet.ch,
        energy_wh=outlet.register_wh,
        power_w=round(outlet.power_w, 1),
        voltage_v=voltage_v,
        current_a=round(outlet.power_w / voltage_v, 3),
        relay=outlet.relay,
        session_id=outlet.session_id,
    )
