"""One simulated DL/T 645-2007 single-phase meter with a relay: answers the frames addressed to it."""
import math
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from device_gateway.dlt645 import codec
from device_gateway.dlt645.codec import DataId, ErrorBit, Frame, Function, RelayAction
from firmware_sim.loads import LoadProfile

NOMINAL_VOLTAGE = Decimal("220.0")


@dataclass
class Dlt645Meter:
    """Counts energy exactly (Decimal Wh) and shows it in 0.01 kWh; its relay obeys 0x1C with the right password."""

    address: str
    load: LoadProfile | None = None
    energy_wh: Decimal = Decimal(0)
    password: str = "02000000"
    operator_code: str | None = None  # None: any operator code (most meters only record it)
    voltage_v: Decimal = NOMINAL_VOLTAGE
    relay_open: bool = True
    ordered_open: bool = True
    stuck: bool = False  # fault: accepts relay commands, but the relay does not move
    closed_at: datetime | None = None
    _last: datetime | None = None
    commands: list[RelayAction] = field(default_factory=list)  # every relay command it obeyed

    @property
    def register_wh(self) -> int:
        """What the register shows: whole 0.01 kWh counts, as Wh."""
        return math.floor(self.energy_wh / 10) * 10

    def power_w(self, now: datetime) -> Decimal:
        if self.relay_open or self.load is None or self.closed_at is None:
            return Decimal(0)
        watts = Decimal(str(self.load.power_w((now - self.closed_at).total_seconds())))
        return watts.quantize(Decimal("0.1"))

    def advance(self, now: datetime) -> None:
        """Count the energy drawn since the last call at the power drawn then."""
        if self._last is not None and now > self._last:
            self.energy_wh += self.power_w(self._last) * Decimal((now - self._last).total_seconds()) / 3600
        self._last = now if self._last is None else max(self._last, now)

    def answer(self, frame: Frame, now: datetime) -> Frame | None:
        """The reply to a frame on the bus, or None: not for this address, or a reply (another meter's)."""
        if frame.address != self.address or frame.is_reply:
            return None
        self.advance(now)
        if frame.function == Function.READ:
            return self._read(frame, now)
        if frame.function == Function.RELAY:
            return self._relay(frame, now)
        return codec.error_reply(self.address, frame.function, ErrorBit.OTHER)

    def _read(self, frame: Frame, now: datetime) -> Frame:
        try:
            di = codec.di_of(frame.data)
        except codec.BadFrame:
            return codec.error_reply(self.address, Function.READ, ErrorBit.OTHER)
        value = self._value(di, now)
        if value is None:
            return codec.error_reply(self.address, Function.READ, ErrorBit.NO_DATA)
        return codec.read_reply(self.address, di, value)

    def _value(self, di: int, now: datetime) -> bytes | None:
        power = self.power_w(now)
        match di:
            case DataId.FORWARD_ACTIVE_ENERGY:
                return codec.energy_value(self.register_wh)
            case DataId.VOLTAGE_A:
                return codec.voltage_value(self.voltage_v)
            case DataId.CURRENT_A:
                return codec.current_value((power / self.voltage_v).quantize(Decimal("0.001")))
            case DataId.ACTIVE_POWER:
                return codec.power_value(power)
            case DataId.STATUS_WORD_3:
                return codec.status_value(codec.StatusWord3.of(self.relay_open, self.ordered_open))
        return None

    def _relay(self, frame: Frame, now: datetime) -> Frame:
        try:
            command = codec.parse_relay_request(frame)
        except codec.BadFrame:
            return codec.error_reply(self.address, Function.RELAY, ErrorBit.OTHER)
        if command.password.upper() != self.password.upper() or (
                self.operator_code is not None and command.operator.upper() != self.operator_code.upper()):
            return codec.error_reply(self.address, Function.RELAY, ErrorBit.UNAUTHORISED)
        if command.expires < now:
            return codec.error_reply(self.address, Function.RELAY, ErrorBit.OTHER)
        self.commands.append(command.action)
        self.ordered_open = command.action == RelayAction.TRIP
        if command.action == RelayAction.TRIP:
            self._switch(open_=True, now=now)
        elif command.action == RelayAction.CLOSE:
            self._switch(open_=False, now=now)
        return codec.relay_ok_reply(self.address)

    def _switch(self, open_: bool, now: datetime) -> None:
        if self.stuck or self.relay_open == open_:
            return
        self.relay_open = open_
        self.closed_at = None if open_ else now
