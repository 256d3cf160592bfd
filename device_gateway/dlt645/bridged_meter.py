"""One platform meter played by the bridge: protocol v1 on its topics, DL/T 645 on its DTU's bus.

The smart part a DL/T 645 meter lacks lives here: the session each outlet serves and its cut-off,
acknowledged commands, `session_ended` records repeated until confirmed, limits enforced by polling.
"""
import logging
import queue
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import count

from backend.core.clock import utcnow
from device_gateway.dlt645 import codec
from device_gateway.dlt645.bus_link import BusLink
from device_gateway.dlt645.codec import DataId, Frame, RelayAction, RelayCommand
from device_gateway.dlt645.limit import PollTiming, margin_wh, over_power, trip_now
from device_gateway.dlt645.memory import BridgeMemory, MemoryStore
from device_gateway.protocol import (Ack, Command, Configure, Message, OutletReading, SessionEnded, Status, Telemetry,
                                     timestamp)

log = logging.getLogger(__name__)

TRIP_EXPIRY = timedelta(minutes=5)  # a trip that reaches the meter later than this is refused by it
REPEAT_UNCONFIRMED_S = 10.0
DEADLINE_PASSED = "deadline passed"


@dataclass(frozen=True)
class Channel:
    """One outlet: the DL/T 645 meter on the bus that serves it."""

    number: int
    address: str
    password: str
    operator_code: str
    rated_power_w: Decimal


@dataclass(frozen=True)
class BridgeTiming:
    poll: PollTiming = field(default_factory=PollTiming)
    idle_interval_s: float = 30.0
    # No reply and no heartbeat for this long: the DTU is silent (three missed heartbeats of 30 s).
    silent_after_s: float = 90.0


@dataclass(frozen=True)
class ChannelReading:
    energy_wh: int
    power_w: Decimal
    voltage_v: Decimal
    current_a: Decimal
    relay_open: bool


class Publisher:
    """Where uplink messages go (the meter's MQTT connection)."""

    def publish(self, message: Message) -> None: ...


class SilenceSink:
    """Told when the DTU falls silent and when it is heard again (the alarm)."""

    def silent(self, since: datetime) -> None: ...

    def heard(self, at: datetime) -> None: ...


class BridgedMeter:
    """Runs in its own thread: commands first, then polls at the session's pace or the idle pace."""

    def __init__(self, meter_id: int, serial: str, channels: list[Channel], bus: BusLink, store: MemoryStore,
                 timing: BridgeTiming = BridgeTiming(), silence: SilenceSink | None = None,
                 clock: Callable[[], datetime] = utcnow):
        self.meter_id, self.serial = meter_id, serial
        self.channels = {c.number: c for c in channels}
        self.bus, self.store, self.timing = bus, store, timing
        self.silence = silence or SilenceSink()
        self.clock = clock
        self.boot_id = secrets.token_hex(8)  # a bridge restart looks like a reboot: relays and sessions survive it
        self.memory: BridgeMemory = store.load(meter_id)
        # None until the DTU is first heard: the meter shows offline, and no alarm is due yet.
        self.silent: bool | None = None
        self.polls = 0
        self.publisher: Publisher = Publisher()
        self._seq = count()
        self._commands: queue.Queue[Command | Configure] = queue.Queue()
        self._max_power: dict[int, Decimal] = {}
        self._repeated_at: dict[int, float] = {}
        self._poll_seconds: deque[float] = deque(maxlen=10)  # how long the last polls took
        self._next_poll = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"dlt645-{serial}", daemon=True)

    # --- life -------------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._commands.put(None)
        self._thread.join(10)

    def command(self, command: Command | Configure) -> None:
        """From the MQTT thread: handled on this meter's thread, in order."""
        self._commands.put(command)

    def status(self) -> Status:
        state = "online" if self.silent is False else "offline"
        return Status(state=state, boot_id=self.boot_id, ts=self._ts()) if state == "online" else Status(state=state)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._step()
            except Exception:
                log.exception("meter %s: the bridge's step failed", self.serial)
                self._stop.wait(1.0)

    def _step(self) -> None:
        wait = max(0.0, min(self._next_poll - time.monotonic(), 0.5))
        try:
            command = self._commands.get(timeout=wait)
        except queue.Empty:
            command = None
        if command is not None:
            self._handle(command)
            return
        self._watch_silence()
        self._repeat_unconfirmed()
        if time.monotonic() >= self._next_poll:
            self.poll()
            interval = self.timing.poll.poll_interval_s if self._running() else self.timing.idle_interval_s
            self._next_poll = time.monotonic() + float(interval)

    # --- commands ------------------------------------------------------------------------------------

    def _handle(self, command: Command | Configure) -> None:
        if isinstance(command, Configure):
            self._max_power = {o.ch: Decimal(str(o.max_power_w)) for o in command.outlets}
            return
        if command.action == "confirm_end":
            if self.memory.unconfirmed.pop(command.session_id, None) is not None:
                self._save()
            return
        if (answer := self.memory.answers.get(command.cmd_id)) is not None:
            self._send(Ack.model_validate_json(answer).model_copy(
                update={"boot_id": self.boot_id, "seq": next(self._seq)}))
            return
        ack = self._close(command) if command.action == "close" else self._open(command)
        if ack is None:
            return  # the bus did not let us act: the platform sends the command again
        if ack.reason != DEADLINE_PASSED:
            self.memory.answered(command.cmd_id, ack.model_dump_json())
            self._save()
        self._send(ack)
        self._next_poll = 0.0  # telemetry right after a switch

    def _close(self, cmd: Command) -> Ack | None:
        channel = self.channels.get(cmd.ch)
        if cmd.deadline < self.clock():
            return self._ack(cmd, 0, DEADLINE_PASSED)
        if channel is None:
            return self._ack(cmd, 0, "no such channel")
        outlet = self.memory.outlet(cmd.ch)
        if outlet.session_id == cmd.session_id:
            return self._ack(cmd, outlet.start_wh)
        if outlet.session_id is not None:
            return self._ack(cmd, 0, "outlet busy")
        if cmd.session_id in outlet.ended:
            return self._ack(cmd, outlet.ended[cmd.session_id], "session ended")
        start_wh = self._read_energy(channel)
        if start_wh is None:
            return self._ack(cmd, 0, "meter not answering")
        reply = self._relay(channel, RelayAction.CLOSE, cmd.deadline)
        if reply is not None and reply.is_error:
            log.warning("meter %s: %s refused to close: %s", self.serial, channel.address,
                        codec.describe_error(codec.error_byte(reply)))
            return self._ack(cmd, start_wh, "relay refused")
        word = None if reply is None else self._status(channel)
        if word is None or word.relay_open:
            self._trip(channel)  # in case the close lands after all: the desired state is open
            return self._ack(cmd, start_wh, "meter not answering" if word is None else "relay did not switch")
        outlet.start(cmd.session_id, start_wh, cmd.energy_limit_wh)
        self._save()
        return self._ack(cmd, start_wh)

    def _open(self, cmd: Command) -> Ack | None:
        channel = self.channels.get(cmd.ch)
        if channel is None:
            return self._ack(cmd, 0, "no such channel")
        outlet = self.memory.outlet(cmd.ch)
        if outlet.session_id == cmd.session_id:
            stop_wh = self._switch_off(channel)
            if stop_wh is None:
                return None
            outlet.end(stop_wh)
            self._save()
            return self._ack(cmd, stop_wh)
        if cmd.session_id in outlet.ended:
            return self._ack(cmd, outlet.ended[cmd.session_id])
        register = self._read_energy(channel)
        return None if register is None else self._ack(cmd, register)

    # --- polling and the limit -----------------------------------------------------------------------

    def poll(self) -> list[OutletReading]:
        """Read every channel, running sessions first; trip what must trip; publish one telemetry message."""
        self.polls += 1
        began = time.monotonic()
        order = sorted(self.channels.values(), key=lambda c: (self.memory.outlet(c.number).session_id is None,
                                                              c.number))
        readings = []
        for channel in order:
            reading = self._poll_channel(channel)
            if reading is None:
                break  # the bus is not answering: the rest of this poll would only wait the same
            readings.append(reading)
        if readings:
            self._send(Telemetry(boot_id=self.boot_id, seq=next(self._seq), ts=self._ts(), outlets=readings))
        self._poll_seconds.append(time.monotonic() - began)
        return readings

    def timing_now(self) -> PollTiming:
        """The poll timing with the read budget the bus has shown: at least the configured one."""
        slowest = Decimal(str(round(max(self._poll_seconds, default=0.0), 3)))
        return replace(self.timing.poll, read_budget_s=max(self.timing.poll.read_budget_s, slowest))

    def _poll_channel(self, channel: Channel) -> OutletReading | None:
        outlet = self.memory.outlet(channel.number)
        energy = self._read_energy(channel)
        if energy is None:
            return None
        margin = margin_wh(channel.rated_power_w, self.timing_now())
        if outlet.cutoff_wh is not None and trip_now(energy, outlet.cutoff_wh, margin):
            self._end_session(channel, "limit_reached")
        values = self._read_values(channel)
        if values is None:
            return None
        power, voltage, current, status = values
        if outlet.session_id is not None and over_power(power, self._max_power.get(channel.number)):
            self._end_session(channel, "overload")
            status = codec.StatusWord3.of(True, True)
        reading = _reading(channel.number, energy, power, voltage, current, status.relay_open, outlet.session_id)
        if outlet.session_id is not None and status.relay_open:
            # Opened by itself (a button, the meter's own protection): the reading ends the session.
            log.warning("meter %s: %s opened without a command", self.serial, channel.address)
            outlet.end(energy)
            self._save()
        elif outlet.session_id is None and not status.relay_open:
            log.warning("meter %s: %s is closed with no session; tripping it", self.serial, channel.address)
            self._trip(channel)
        return reading

    def _end_session(self, channel: Channel, reason: str) -> None:
        """Trip for the limit (or overload) and report it like a smart meter: a `session_ended` until confirmed."""
        outlet = self.memory.outlet(channel.number)
        stop_wh = self._switch_off(channel)
        if stop_wh is None:
            log.warning("meter %s: could not trip %s for %s; trying again next poll", self.serial, channel.address,
                        reason)
            return
        session_id = outlet.end(stop_wh)
        record = SessionEnded(ch=channel.number, session_id=session_id, reason=reason, energy_wh=stop_wh,
                              boot_id=self.boot_id, seq=next(self._seq), ts=self._ts())
        self.memory.unconfirmed[session_id] = record.model_dump_json()
        self._save()
        self._repeated_at[session_id] = time.monotonic()
        self._send(record)

    def _repeat_unconfirmed(self) -> None:
        now = time.monotonic()
        for session_id, record in list(self.memory.unconfirmed.items()):
            if now - self._repeated_at.get(session_id, -1e9) >= REPEAT_UNCONFIRMED_S:
                self._repeated_at[session_id] = now
                self._send(SessionEnded.model_validate_json(record))

    # --- a silent DTU ---------------------------------------------------------------------------------

    def _watch_silence(self) -> None:
        silent = self.bus.silent_for() > self.timing.silent_after_s or not self.bus.heard_anything
        if silent == self.silent or (self.silent is None and silent and
                                     self.bus.silent_for() <= self.timing.silent_after_s):
            return  # unchanged, or not heard yet but not for long
        self.silent = silent
        if silent:
            log.warning("meter %s: DTU %s silent for %.0f s; the meter is offline", self.serial, self.bus.dtu_id,
                        self.bus.silent_for())
            self.silence.silent(self.clock() - timedelta(seconds=self.bus.silent_for()))
        else:
            log.info("meter %s: DTU %s heard", self.serial, self.bus.dtu_id)
            self.silence.heard(self.clock())  # also closes an alarm an earlier run of the bridge left open
            self._next_poll = 0.0  # read the registers now: trip what passed its cut-off meanwhile
        self._send(self.status())

    # --- the bus ----------------------------------------------------------------------------------------

    def _read(self, channel: Channel, di: DataId) -> bytes | None:
        reply = self.bus.exchange(codec.read_request(channel.address, di))
        if reply is None:
            return None
        try:
            return codec.reply_value(reply, di)
        except codec.BadFrame as exc:
            log.warning("meter %s: %s answered DI %08X with %s", self.serial, channel.address, di, exc)
            return None

    def _read_energy(self, channel: Channel) -> int | None:
        value = self._read(channel, DataId.FORWARD_ACTIVE_ENERGY)
        return None if value is None else _decoded(codec.energy_wh, value)

    def _read_values(self, channel: Channel) -> tuple[Decimal, Decimal, Decimal, codec.StatusWord3] | None:
        raw = [self._read(channel, di) for di in (DataId.ACTIVE_POWER, DataId.VOLTAGE_A, DataId.CURRENT_A,
                                                  DataId.STATUS_WORD_3)]
        if None in raw:
            return None
        decoded = [_decoded(decode, value) for decode, value in zip(
            (codec.power_w, codec.voltage_v, codec.current_a, codec.status_word_3), raw)]
        return None if None in decoded else tuple(decoded)

    def _relay(self, channel: Channel, action: RelayAction, expires: datetime) -> Frame | None:
        command = RelayCommand(channel.password, channel.operator_code, action, expires)
        return self.bus.exchange(codec.relay_request(channel.address, command))

    def _status(self, channel: Channel) -> codec.StatusWord3 | None:
        value = self._read(channel, DataId.STATUS_WORD_3)
        return None if value is None else _decoded(codec.status_word_3, value)

    def _trip(self, channel: Channel) -> bool:
        reply = self._relay(channel, RelayAction.TRIP, self.clock() + TRIP_EXPIRY)
        if reply is not None and reply.is_error:
            log.warning("meter %s: %s refused to trip: %s", self.serial, channel.address,
                        codec.describe_error(codec.error_byte(reply)))
        return reply is not None and not reply.is_error and (word := self._status(channel)) is not None \
            and word.relay_open

    def _switch_off(self, channel: Channel) -> int | None:
        """Trip and confirm, then the register (still once the relay is open); None if any step failed."""
        if not self._trip(channel):
            return None
        return self._read_energy(channel)

    # --- uplink -------------------------------------------------------------------------------------------

    def _ack(self, cmd: Command, energy_wh: int, reason: str | None = None) -> Ack:
        return Ack(cmd_id=cmd.cmd_id, action=cmd.action, ch=cmd.ch, session_id=cmd.session_id,
                   result="rejected" if reason else "ok", reason=reason, energy_wh=energy_wh,
                   boot_id=self.boot_id, seq=next(self._seq), ts=self._ts())

    def _send(self, message: Message) -> None:
        self.publisher.publish(message)

    def _save(self) -> None:
        self.store.save(self.meter_id, self.memory)

    def _ts(self) -> datetime:
        return timestamp(self.clock())

    def _running(self) -> bool:
        return any(self.memory.outlet(c).session_id is not None for c in self.channels)


def _decoded(decode, value: bytes):
    try:
        return decode(value)
    except codec.BadFrame:
        return None


def _reading(ch: int, energy_wh: int, power: Decimal, voltage: Decimal, current: Decimal, relay_open: bool,
             session_id: int | None) -> OutletReading:
    # v1 carries magnitudes: a negative (reverse) flow reads as 0; energy stays an exact integer.
    return OutletReading(ch=ch, energy_wh=energy_wh, power_w=max(power, Decimal(0)), voltage_v=voltage,
                         current_a=max(current, Decimal(0)), relay="open" if relay_open else "closed",
                         session_id=session_id)
