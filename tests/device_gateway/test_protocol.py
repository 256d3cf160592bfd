"""docs/protocol.md and device_gateway/protocol.py must say the same thing."""
import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from device_gateway.protocol import (
    MAX_UPLINK_BURST,
    MAX_UPLINK_RATE_PER_S,
    Ack,
    BadMessage,
    Command,
    Configure,
    SessionEnded,
    Status,
    Telemetry,
    Topics,
    decode,
    decode_command,
    encode,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
MODELS = {"status": Status, "telemetry": Telemetry, "command": Command, "ack": Ack, "session_ended": SessionEnded,
          "configure": Configure}


def documented_examples() -> list[tuple[str, str]]:
    """Every ```json block in the document, with the heading it sits under."""
    examples, heading = [], ""
    for block in re.split(r"^```", DOC.read_text(), flags=re.M):
        if block.startswith("json\n"):
            examples.append((heading, block[len("json\n"):]))
        else:
            found = re.findall(r"^## (\w+)", block, flags=re.M)
            heading = found[-1] if found else heading
    return examples


@pytest.mark.parametrize("heading, example", documented_examples())
def test_every_documented_example_is_a_valid_message(heading, example):
    model = MODELS[heading]
    message = model.model_validate_json(example)
    assert model.model_validate_json(encode(message)) == message
    assert set(json.loads(encode(message))) == set(json.loads(example))


def test_the_document_shows_every_message():
    assert {heading for heading, _ in documented_examples()} == set(MODELS)


def test_the_document_states_the_rate_a_meter_may_send():
    text = " ".join(DOC.read_text().split())
    assert (f"at most **{MAX_UPLINK_RATE_PER_S} messages per second** on average "
            f"and at most **{MAX_UPLINK_BURST} at once**") in text


def test_topics_parse_back_to_serial_and_kind():
    topics = Topics("scanpower/v1")
    assert topics.parse(topics.meter("SP00000001", "ack")) == ("SP00000001", "ack")
    assert topics.uplink_filters("gw") [0] == "$share/gw/scanpower/v1/m/+/telemetry"
    for bad in ("scanpower/v1/m/SP1/cmd", "scanpower/v1/m//ack", "other/m/SP1/ack", "scanpower/v1/m/SP1/ack/x"):
        with pytest.raises(BadMessage):
            topics.parse(bad)


def test_unknown_fields_and_oversized_payloads_are_refused():
    with pytest.raises(BadMessage, match="Extra inputs"):
        decode("status", b'{"v":1,"state":"online","colour":"green"}')
    with pytest.raises(BadMessage, match="more than"):
        decode("status", b" " * 20_000)


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_escape_as_anything_but_bad_message(payload):
    for kind in ("telemetry", "ack", "event", "status"):
        try:
            decode(kind, payload)
        except BadMessage:
            pass
    try:
        decode_command(payload)
    except BadMessage:
        pass


def test_timestamps_far_from_the_platforms_clock_are_not_believed():
    from datetime import UTC, datetime, timedelta

    from device_gateway.protocol import timestamp_problem
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    assert timestamp_problem(now + timedelta(minutes=5), now) is None
    assert timestamp_problem(now - timedelta(days=20), now) is None  # a long offline backlog is fine
    assert "ahead" in timestamp_problem(now + timedelta(hours=2), now)
    assert "days old" in timestamp_problem(now - timedelta(days=400), now)
