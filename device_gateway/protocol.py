"""Meter protocol v1: the JSON messages and topics, shared by the gateway and the simulator.

docs/protocol.md is the prose version of this module; keep them together.
"""
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal, get_args

from pydantic import (AwareDatetime, BeforeValidator, BaseModel, ConfigDict, Field, PlainSerializer, TypeAdapter,
                      ValidationError, model_validator)

PROTOCOL_VERSION = 1
MAX_PAYLOAD_BYTES = 16 * 1024
MAX_OUTLETS = 32
# How fast a meter may send, backlog included (docs/protocol.md): on average, and at once. The gateway drops the rest.
MAX_UPLINK_RATE_PER_S = 20
MAX_UPLINK_BURST = 100

Channel = Annotated[int, Field(ge=1, le=MAX_OUTLETS)]
BootId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
Seq = Annotated[int, Field(ge=0, lt=2**53)]
RegisterWh = Annotated[int, Field(ge=0, lt=10**12)]
CmdId = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")]
SessionId = Annotated[int, Field(ge=1, lt=2**53)]
# Why a meter refuses a command (docs/protocol.md, "ack"); the last three come from DL/T 645 meters behind the bridge.
RefusalReason = Literal["deadline passed", "no such channel", "outlet busy", "session ended",
                        "relay refused", "relay did not switch", "meter not answering"]
REFUSAL_REASONS: tuple[str, ...] = get_args(RefusalReason)


_FRACTION = re.compile(r"T\d{2}:\d{2}:\d{2}[.,](\d+)")


def _at_most_milliseconds(value: object) -> object:
    """On the wire finer than a millisecond is refused; a datetime built in Python is cut to milliseconds."""
    if isinstance(value, str) and (fraction := _FRACTION.search(value)) and len(fraction.group(1)) > 3:
        raise ValueError("timestamps carry milliseconds at most")
    if isinstance(value, datetime):
        return timestamp(value)
    return value


def _written(moment: datetime) -> str:
    """ISO 8601 in UTC with exactly three decimals, as docs/protocol.md shows them: 2026-11-26T13:05:00.250Z."""
    utc = moment.astimezone(UTC)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"


Timestamp = Annotated[AwareDatetime, BeforeValidator(_at_most_milliseconds),
                      PlainSerializer(_written, return_type=str, when_used="json")]


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    v: Literal[1] = PROTOCOL_VERSION


class OutletReading(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    ch: Channel
    energy_wh: RegisterWh
    power_w: float = Field(ge=0, le=200_000)
    voltage_v: float = Field(ge=0, le=500)
    current_a: float = Field(ge=0, le=1000)
    relay: Literal["closed", "open"]
    session_id: SessionId | None = None


class Telemetry(Message):
    """Meter → platform, QoS 1: every outlet's registers at one moment."""

    boot_id: BootId
    seq: Seq
    ts: Timestamp
    outlets: list[OutletReading] = Field(min_length=1, max_length=MAX_OUTLETS)


class Command(Message):
    """Platform → meter, QoS 1, never retained: close or open one outlet's relay, or confirm a stop record."""

    cmd_id: CmdId
    action: Literal["close", "open", "confirm_end"]
    ch: Channel
    session_id: SessionId
    energy_limit_wh: RegisterWh | None = None
    deadline: Timestamp


class OutletLimit(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    ch: Channel
    max_power_w: float = Field(gt=0, le=200_000)


class Configure(Message):
    """Platform → meter, QoS 1, never retained: the power limits the meter enforces by itself."""

    cmd_id: CmdId
    action: Literal["configure"]
    outlets: list[OutletLimit] = Field(max_length=MAX_OUTLETS)
    max_total_power_w: float | None = Field(default=None, gt=0, le=2_000_000)
    deadline: Timestamp


Downlink = Annotated[Command | Configure, Field(discriminator="action")]
_DOWNLINK = TypeAdapter(Downlink)


class Ack(Message):
    """Meter → platform, QoS 1: the result of a command and the register when it switched."""

    cmd_id: CmdId
    action: Literal["close", "open"]
    ch: Channel
    session_id: SessionId
    result: Literal["ok", "rejected"]
    reason: RefusalReason | None = None
    energy_wh: RegisterWh
    boot_id: BootId
    seq: Seq
    ts: Timestamp

    @model_validator(mode="after")
    def _reason_only_when_rejected(self) -> "Ack":
        if (self.result == "rejected") != (self.reason is not None):
            raise ValueError("reason is present when, and only when, result is rejected")
        return self


class SessionEnded(Message):
    """Meter → platform, QoS 1: the meter opened a session's relay by itself."""

    type: Literal["session_ended"] = "session_ended"
    ch: Channel
    session_id: SessionId
    reason: Literal["limit_reached", "overload", "power_loss", "unplugged", "no_load"]
    energy_wh: RegisterWh
    boot_id: BootId
    seq: Seq
    ts: Timestamp


class Status(Message):
    """Meter → platform, QoS 1, retained; the offline form is the meter's last will."""

    state: Literal["online", "offline"]
    boot_id: BootId | None = None
    ts: Timestamp | None = None


UPLINK_KINDS = ("telemetry", "ack", "event", "status")
UPLINK_MODELS: dict[str, type[Message]] = {
    "telemetry": Telemetry,
    "ack": Ack,
    "event": SessionEnded,
    "status": Status,
}


@dataclass(frozen=True)
class Topics:
    """Topic names under a versioned prefix: {prefix}/m/{serial}/{kind}."""

    prefix: str = "scanpower/v1"

    def meter(self, serial: str, kind: str) -> str:
        return f"{self.prefix}/m/{serial}/{kind}"

    def command(self, serial: str) -> str:
        return self.meter(serial, "cmd")

    def gateway_marker(self, client_id: str) -> str:
        """Where a gateway sends itself the marker that tells it the broker's backlog is drained."""
        return f"{self.prefix}/gateway/{client_id}/marker"

    def dtu(self, dtu_id: str, direction: str) -> str:
        """A transparent DTU's raw bytes: `up` from its bus, `down` to it (docs/dlt645.md)."""
        return f"{self.prefix}/dtu/{dtu_id}/{direction}"

    def dtu_uplink_filter(self) -> str:
        return self.dtu("+", "up")

    def uplink_filters(self, share_group: str = "") -> list[str]:
        filters = [f"{self.prefix}/m/+/{kind}" for kind in UPLINK_KINDS]
        return [f"$share/{share_group}/{f}" for f in filters] if share_group else filters

    def parse(self, topic: str) -> tuple[str, str]:
        """Return (serial, kind) of an uplink topic, or raise BadMessage."""
        head = f"{self.prefix}/m/"
        if not topic.startswith(head):
            raise BadMessage(f"topic is not under {head}")
        parts = topic[len(head):].split("/")
        if len(parts) != 2 or not parts[0] or parts[1] not in UPLINK_KINDS:
            raise BadMessage(f"topic must be {head}<serial>/<{'|'.join(UPLINK_KINDS)}>")
        return parts[0], parts[1]


class BadMessage(ValueError):
    """A payload or topic that does not follow protocol v1."""


def decode(kind: str, payload: bytes) -> Message:
    """Parse and validate an uplink payload of the given kind."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise BadMessage(f"payload is {len(payload)} bytes, more than {MAX_PAYLOAD_BYTES}")
    try:
        return UPLINK_MODELS[kind].model_validate_json(payload)
    except ValidationError as exc:
        raise BadMessage(_describe(exc)) from None


def decode_command(payload: bytes) -> Command | Configure:
    try:
        return _DOWNLINK.validate_json(payload)
    except ValidationError as exc:
        raise BadMessage(_describe(exc)) from None


def encode(message: Message) -> bytes:
    return message.model_dump_json(exclude_none=True).encode()


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error["loc"]) or "payload"
        problems.append(f"{where}: {error['msg']}")
    return "; ".join(problems)


def timestamp_problem(ts: datetime, now: datetime, ahead: timedelta = timedelta(minutes=10),
                      behind: timedelta = timedelta(days=31)) -> str | None:
    """Why a device timestamp is not believable, or None; a meter's backlog may be weeks old, not years."""
    if ts > now + ahead:
        return f"ts {ts.isoformat()} is more than {ahead} ahead of the platform's clock"
    if ts < now - behind:
        return f"ts {ts.isoformat()} is more than {behind.days} days old"
    return None


def timestamp(moment: datetime) -> datetime:
    """Protocol timestamps carry milliseconds at most."""
    return moment.replace(microsecond=(moment.microsecond // 1000) * 1000)
