"""The ASCII packets our transparent DTUs are configured to send besides the bus's bytes (docs/dlt645.md)."""
from typing import Literal

REGISTRATION = "REG:{dtu_id}"  # once per connection
HEARTBEAT = "HB:{dtu_id}"  # every heartbeat interval
PacketKind = Literal["registration", "heartbeat"]
_PREFIXES: dict[bytes, PacketKind] = {b"REG:": "registration", b"HB:": "heartbeat"}


def registration(dtu_id: str) -> bytes:
    return REGISTRATION.format(dtu_id=dtu_id).encode()


def heartbeat(dtu_id: str) -> bytes:
    return HEARTBEAT.format(dtu_id=dtu_id).encode()


def packet_kind(payload: bytes, dtu_id: str) -> PacketKind | None:
    """Which packet of this DTU the payload is, or None: then it is bytes from the bus."""
    for prefix, kind in _PREFIXES.items():
        if payload == prefix + dtu_id.encode():
            return kind
    return None
