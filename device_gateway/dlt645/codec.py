"""DL/T 645-2007 frames as the platform uses them: pure encoding and decoding, no I/O.

Framing, the +0x33 offset, the checksum and stream parsing come from the `dlt645` package
(imported here only: its package import loads large tables). Addresses, data identifiers,
exact BCD quantities, status word 3, error replies and relay control (0x1C) are ours.
docs/dlt645.md shows every frame byte by byte; keep the two together.
"""
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import IntEnum
from zoneinfo import ZoneInfo

from dlt645.protocol.protocol import DLT645Protocol

ADDRESS_DIGITS = 12
PREAMBLE_BYTES = 4  # FE FE FE FE wake the bus before each request
REPLY_BIT = 0x80  # D7: sent by the meter
ERROR_BIT = 0x40  # D6: the meter's abnormal reply
FUNCTION_MASK = 0x1F
# Meters keep Beijing time; a relay command's expiry is written in it.
METER_TIME_ZONE = ZoneInfo("Asia/Shanghai")
# Password levels that carry ciphertext for an ESAM security module: the platform cannot speak them.
ENCRYPTED_LEVELS = frozenset({0x96, 0x98, 0x99})
MAX_BUFFERED_BYTES = 4096  # a stream that never yields a frame is garbage, not a frame still coming


class Function(IntEnum):
    READ = 0x11
    RELAY = 0x1C


class DataId(IntEnum):
    """Data identifiers (DI3 DI2 DI1 DI0) the platform reads."""

    FORWARD_ACTIVE_ENERGY = 0x00010000  # 4 bytes, XXXXXX.XX kWh
    VOLTAGE_A = 0x02010100  # 2 bytes, XXX.X V
    CURRENT_A = 0x02020100  # 3 bytes, XXX.XXX A, sign in the top bit
    ACTIVE_POWER = 0x02030000  # 3 bytes, XX.XXXX kW, sign in the top bit
    STATUS_WORD_3 = 0x04000503  # 2 bytes, binary: bit 4 relay open, bit 6 relay ordered open


VALUE_BYTES = {DataId.FORWARD_ACTIVE_ENERGY: 4, DataId.VOLTAGE_A: 2, DataId.CURRENT_A: 3,
               DataId.ACTIVE_POWER: 3, DataId.STATUS_WORD_3: 2}


class RelayAction(IntEnum):
    """N1 of a control command."""

    TRIP = 0x1A  # 跳闸 (拉闸)
    ALLOW_CLOSE = 0x1B  # 合闸允许: the customer closes it by a button
    CLOSE = 0x1C  # 直接合闸


class ErrorBit(IntEnum):
    """Bits of the one error byte of an abnormal reply."""

    OTHER = 0x01
    NO_DATA = 0x02  # no such data identifier
    UNAUTHORISED = 0x04  # wrong password or not authorised
    RATE_FIXED = 0x08
    YEAR_ZONES = 0x10
    DAY_SLOTS = 0x20
    TARIFFS = 0x40


class BadFrame(ValueError):
    """Bytes or values that do not make the frame asked for."""


@dataclass(frozen=True)
class Frame:
    """One frame with its data field already decoded (the 0x33 offset removed)."""

    address: str
    control: int
    data: bytes = b""

    @property
    def function(self) -> int:
        return self.control & FUNCTION_MASK

    @property
    def is_reply(self) -> bool:
        return bool(self.control & REPLY_BIT)

    @property
    def is_error(self) -> bool:
        return bool(self.control & ERROR_BIT)


# --- framing -------------------------------------------------------------------------------------

def encode(frame: Frame, preamble: int = PREAMBLE_BYTES) -> bytes:
    """The frame on the wire: FE…, 68 A0…A5 68 C L DATA+33 CS 16."""
    try:
        return bytes(DLT645Protocol.build_frame(address_bytes(frame.address), frame.control, frame.data, preamble))
    except ValueError as exc:
        raise BadFrame(str(exc)) from None


class FrameReader:
    """Reassembles frames from a byte stream split or merged anyhow; noise and bad checksums are skipped."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[Frame]:
        """Every frame completed by this chunk, in order."""
        self._buffer += chunk
        frames = []
        while (found := self._next()) is not None:
            frames.append(Frame(address_text(bytes(found.addr)), found.ctrl_code, bytes(found.data)))
        if len(self._buffer) > MAX_BUFFERED_BYTES:
            self._buffer = b""
        return frames

    def _next(self):
        rest, found = DLT645Protocol.deserialize_with_remaining(self._buffer)
        self._buffer = rest
        if found is not None:
            return found
        # What waits may be a false start (a 68 inside a corrupted frame) swallowing a complete frame behind it.
        start = self._buffer.find(0x68, 1)
        while start >= 0:
            rest, found = DLT645Protocol.deserialize_with_remaining(self._buffer[start:])
            if found is not None:
                self._buffer = rest
                return found
            start = self._buffer.find(0x68, start + 1)
        return None

    @property
    def buffered(self) -> int:
        return len(self._buffer)


# --- addresses and identifiers ----------------------------------------------------------------

def address_bytes(address: str) -> bytes:
    """12 decimal digits (as printed on the meter) → 6 BCD bytes, low byte first."""
    if len(address) != ADDRESS_DIGITS or not address.isascii() or not address.isdigit():
        raise BadFrame(f"a meter address is {ADDRESS_DIGITS} digits, not {address!r}")
    return bytes.fromhex(address)[::-1]


def address_text(raw: bytes) -> str:
    """6 address bytes, low byte first → the 12 characters printed on the meter (AA is a wildcard digit pair)."""
    return raw[::-1].hex().upper()


def di_bytes(di: int) -> bytes:
    """A data identifier on the wire: DI0 first."""
    return di.to_bytes(4, "little")


def di_of(data: bytes) -> int:
    if len(data) < 4:
        raise BadFrame(f"a read carries a 4-byte data identifier, got {len(data)} bytes")
    return int.from_bytes(data[:4], "little")


# --- BCD -------------------------------------------------------------------------------------------

def bcd_to_int(raw: bytes) -> int:
    """Packed BCD, low byte first, to an integer; any nibble above 9 is refused."""
    digits = raw[::-1].hex()
    if not digits.isdigit():
        raise BadFrame(f"not BCD: {raw.hex(' ')}")
    return int(digits) if digits else 0


def int_to_bcd(value: int, length: int) -> bytes:
    if not 0 <= value < 10 ** (2 * length):
        raise BadFrame(f"{value} does not fit {length} BCD bytes")
    return bytes.fromhex(f"{value:0{2 * length}d}")[::-1]


def signed_bcd_to_int(raw: bytes) -> int:
    """BCD whose top bit is the sign (current, power)."""
    negative = bool(raw[-1] & 0x80)
    magnitude = bcd_to_int(raw[:-1] + bytes([raw[-1] & 0x7F]))
    return -magnitude if negative else magnitude


def int_to_signed_bcd(value: int, length: int) -> bytes:
    raw = int_to_bcd(abs(value), length)
    if raw[-1] & 0x80:
        raise BadFrame(f"{value} does not fit {length} signed BCD bytes")
    return raw[:-1] + bytes([raw[-1] | 0x80]) if value < 0 else raw


# --- quantities --------------------------------------------------------------------------------------

def energy_wh(value: bytes) -> int:
    """XXXXXX.XX kWh → whole Wh, exactly (one count is 10 Wh)."""
    return bcd_to_int(_sized(value, DataId.FORWARD_ACTIVE_ENERGY)) * 10


def energy_value(wh: int) -> bytes:
    if wh % 10:
        raise BadFrame(f"the register counts 0.01 kWh (10 Wh); {wh} Wh is not a whole count")
    return int_to_bcd(wh // 10, VALUE_BYTES[DataId.FORWARD_ACTIVE_ENERGY])


def voltage_v(value: bytes) -> Decimal:
    return Decimal(bcd_to_int(_sized(value, DataId.VOLTAGE_A))).scaleb(-1)


def voltage_value(volts: Decimal) -> bytes:
    return int_to_bcd(_counts(volts, 1), VALUE_BYTES[DataId.VOLTAGE_A])


def current_a(value: bytes) -> Decimal:
    return Decimal(signed_bcd_to_int(_sized(value, DataId.CURRENT_A))).scaleb(-3)


def current_value(amps: Decimal) -> bytes:
    return int_to_signed_bcd(_counts(amps, 3), VALUE_BYTES[DataId.CURRENT_A])


def power_w(value: bytes) -> Decimal:
    """XX.XXXX kW → W with one decimal place."""
    return Decimal(signed_bcd_to_int(_sized(value, DataId.ACTIVE_POWER))).scaleb(-1)


def power_value(watts: Decimal) -> bytes:
    return int_to_signed_bcd(_counts(watts, 1), VALUE_BYTES[DataId.ACTIVE_POWER])


@dataclass(frozen=True)
class StatusWord3:
    """电表运行状态字3: bit 4 the relay (0 conducting, 1 open), bit 6 the last relay command (0 close, 1 trip)."""

    bits: int

    @property
    def relay_open(self) -> bool:
        return bool(self.bits & 0x10)

    @property
    def ordered_open(self) -> bool:
        return bool(self.bits & 0x40)

    @classmethod
    def of(cls, relay_open: bool, ordered_open: bool, other_bits: int = 0) -> "StatusWord3":
        return cls((other_bits & ~0x50) | (0x10 if relay_open else 0) | (0x40 if ordered_open else 0))


def status_word_3(value: bytes) -> StatusWord3:
    return StatusWord3(int.from_bytes(_sized(value, DataId.STATUS_WORD_3), "little"))


def status_value(word: StatusWord3) -> bytes:
    return word.bits.to_bytes(2, "little")


def _sized(value: bytes, di: DataId) -> bytes:
    if len(value) != VALUE_BYTES[di]:
        raise BadFrame(f"{di.name} has {VALUE_BYTES[di]} bytes, got {len(value)}")
    return value


def _counts(quantity: Decimal, places: int) -> int:
    scaled = Decimal(quantity).scaleb(places)
    if scaled != scaled.to_integral_value():
        raise BadFrame(f"{quantity} has more than {places} decimal places")
    return int(scaled)


# --- reads ---------------------------------------------------------------------------------------------

def read_request(address: str, di: int) -> Frame:
    return Frame(address, Function.READ, di_bytes(di))


def read_reply(address: str, di: int, value: bytes) -> Frame:
    return Frame(address, Function.READ | REPLY_BIT, di_bytes(di) + value)


def reply_value(frame: Frame, di: int) -> bytes:
    """The value of a normal read reply for `di`; an error reply or another identifier is refused."""
    if frame.is_error:
        raise BadFrame(f"the meter refused the read: error byte {error_byte(frame):#04x}")
    if di_of(frame.data) != di:
        raise BadFrame(f"a reply for DI {di_of(frame.data):08X}, not {di:08X}")
    return frame.data[4:]


# --- errors --------------------------------------------------------------------------------------------

def error_reply(address: str, function: int, error: int) -> Frame:
    return Frame(address, function | REPLY_BIT | ERROR_BIT, bytes([error]))


def error_byte(frame: Frame) -> int:
    return frame.data[0] if frame.data else 0


def describe_error(error: int) -> str:
    names = [bit.name.lower() for bit in ErrorBit if error & bit]
    return ", ".join(names) or f"error {error:#04x}"


# --- relay control (0x1C) ------------------------------------------------------------------------------

@dataclass(frozen=True)
class RelayCommand:
    """PA P0 P1 P2 C0…C3 N1 N2 N3…N8 of a control command, in plaintext.

    `password` is 8 hex digits as meter sheets write it: the level PA, then P2 P1 P0;
    `operator` is C3 C2 C1 C0. Both go on the wire low byte first.
    """

    password: str
    operator: str
    action: RelayAction
    expires: datetime

    def __post_init__(self):
        for name in ("password", "operator"):
            if not _hex8(getattr(self, name)):
                raise BadFrame(f"{name} is 8 hex digits, not {getattr(self, name)!r}")
        if self.expires.utcoffset() is None:
            raise BadFrame("a relay command's expiry must carry a UTC offset")

    @property
    def level(self) -> int:
        return int(self.password[:2], 16)


def relay_request(address: str, command: RelayCommand) -> Frame:
    if command.level in ENCRYPTED_LEVELS:
        raise BadFrame(f"password level {command.level:02X} needs an ESAM ciphertext the platform cannot make")
    password = bytes.fromhex(command.password)
    data = (password[:1] + password[1:][::-1] + bytes.fromhex(command.operator)[::-1]
            + bytes([command.action, 0x00]) + expiry_bytes(command.expires))
    return Frame(address, Function.RELAY, data)


def parse_relay_request(frame: Frame) -> RelayCommand:
    """The command a control frame carries (what a meter reads); a malformed one is refused."""
    data = frame.data
    if frame.function != Function.RELAY or len(data) != 16:
        raise BadFrame(f"a relay command has 16 data bytes, got {len(data)}")
    try:
        action = RelayAction(data[8])
    except ValueError:
        raise BadFrame(f"unknown relay action {data[8]:#04x}") from None
    password = (data[:1] + data[1:4][::-1]).hex().upper()
    operator = data[4:8][::-1].hex().upper()
    return RelayCommand(password, operator, action, expiry_of(data[10:16]))


def relay_ok_reply(address: str) -> Frame:
    return Frame(address, Function.RELAY | REPLY_BIT)


def expiry_bytes(moment: datetime) -> bytes:
    """N3…N8: ss mm hh DD MM YY in BCD, Beijing time."""
    local = moment.astimezone(METER_TIME_ZONE)
    if not 2000 <= local.year <= 2099:
        raise BadFrame(f"a meter's clock holds years 2000–2099, not {local.year}")
    fields = (local.second, local.minute, local.hour, local.day, local.month, local.year - 2000)
    return b"".join(int_to_bcd(field, 1) for field in fields)


def expiry_of(raw: bytes) -> datetime:
    second, minute, hour, day, month, year = (bcd_to_int(raw[i:i + 1]) for i in range(6))
    try:
        return datetime(2000 + year, month, day, hour, minute, second, tzinfo=METER_TIME_ZONE)
    except ValueError as exc:
        raise BadFrame(f"not a time: {raw.hex(' ')} ({exc})") from None


def _hex8(text: str) -> bool:
    return len(text) == 8 and all(c in "0123456789ABCDEFabcdef" for c in text)
