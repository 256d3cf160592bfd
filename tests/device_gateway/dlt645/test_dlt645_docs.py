"""docs/dlt645.md and the codec must say the same thing: every documented frame is rebuilt byte for byte."""
import re
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from device_gateway.dlt645 import codec
from device_gateway.dlt645.codec import DataId, ErrorBit, Function, RelayAction, RelayCommand
from device_gateway.dlt645.limit import PollTiming, margin_wh
from device_gateway.protocol import REFUSAL_REASONS

DOC = Path(__file__).resolve().parents[3] / "docs" / "dlt645.md"
PROTOCOL = DOC.with_name("protocol.md")
A = "000000001234"
EXPIRES = datetime(2026, 11, 26, 13, 5, 30, tzinfo=codec.METER_TIME_ZONE)
FRAMES = {
    "read energy": codec.read_request(A, DataId.FORWARD_ACTIVE_ENERGY),
    "energy reply": codec.read_reply(A, DataId.FORWARD_ACTIVE_ENERGY, codec.energy_value(1_234_560)),
    "read status word 3": codec.read_request(A, DataId.STATUS_WORD_3),
    "status word 3 reply": codec.read_reply(A, DataId.STATUS_WORD_3,
                                            codec.status_value(codec.StatusWord3.of(True, True))),
    "power reply": codec.read_reply(A, DataId.ACTIVE_POWER, codec.power_value(Decimal("3680.0"))),
    "voltage reply": codec.read_reply(A, DataId.VOLTAGE_A, codec.voltage_value(Decimal("221.3"))),
    "current reply": codec.read_reply(A, DataId.CURRENT_A, codec.current_value(Decimal("16.630"))),
    "read refused": codec.error_reply(A, Function.READ, ErrorBit.NO_DATA),
    "trip": codec.relay_request(A, RelayCommand("02000000", "00000000", RelayAction.TRIP, EXPIRES)),
    "close": codec.relay_request(A, RelayCommand("02000000", "00000000", RelayAction.CLOSE, EXPIRES)),
    "relay ok": codec.relay_ok_reply(A),
    "relay refused": codec.error_reply(A, Function.RELAY, ErrorBit.UNAUTHORISED),
}


def documented() -> dict[str, bytes]:
    found = re.findall(r"<!-- frame: (.+?) -->\s*```hex\n(.+?)\n```", DOC.read_text())
    return {name: bytes.fromhex(text) for name, text in found}


def test_every_frame_the_codec_builds_is_documented_and_nothing_else():
    assert sorted(documented()) == sorted(FRAMES)


@pytest.mark.parametrize("name", sorted(FRAMES))
def test_the_documented_bytes_are_the_codecs(name):
    frame = FRAMES[name]
    assert documented()[name] == codec.encode(frame, 0 if frame.is_reply else codec.PREAMBLE_BYTES)
    assert codec.FrameReader().feed(documented()[name]) == [frame]


def test_the_documented_margins_are_the_arithmetics():
    text = DOC.read_text()
    assert "**33 Wh** for a 16 A outlet" in text and "**55 Wh** for a\n32 A outlet" in text
    assert margin_wh(Decimal("3680"), PollTiming()) == 33
    assert margin_wh(Decimal("7360"), PollTiming()) == 55
    assert f"**{PollTiming().horizon_s.normalize():f} s**" in text


def test_every_refusal_reason_is_documented_in_protocol_v1():
    text = " ".join(PROTOCOL.read_text().split())
    assert all(f"`{reason}`" in text for reason in REFUSAL_REASONS)
