"""docs/protocol.md and device_gateway/protocol.py must say the same thing."""
import json
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import get_args

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
    RefusalReason,
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


def test_the_document_lists_exactly_the_refusal_reasons_the_protocol_allows():
    text = " ".join(DOC.read_text().split())
    listed = text.split("Refusal reasons, exactly these strings:")[1].split(" A command repeated")[0]
    assert set(re.findall(r"`([a-z]+ [a-z ]+)`", listed)) == set(get_args(RefusalReason))  # each has a space


def test_the_platform_writes_timestamps_with_exactly_three_decimals_in_utc():
    shanghai = timezone(timedelta(hours=8))
    command = Command(cmd_id="c", action="open", ch=1, session_id=1,
                      deadline=datetime(2026, 11, 26, 21, 5, 30, 123456, tzinfo=shanghai))
    assert b'"deadline":"2026-11-26T13:05:30.123Z"' in encode(command)
    on_the_hour = command.model_copy(update={"deadline": datetime(2026, 11, 26, 13, 0, tzinfo=UTC)})
    assert b'"deadline":"2026-11-26T13:00:00.000Z"' in encode(on_the_hour)


def test_a_meters_timestamp_finer_than_a_millisecond_is_refused():
    reading = {"ch": 1, "energy_wh": 1, "power_w": 0, "voltage_v": 220, "current_a": 0, "relay": "open"}
    message = {"v": 1, "boot_id": "b", "seq": 1, "ts": "2026-11-26T13:05:00.250123Z", "outlets": [reading]}
    with pytest.raises(BadMessage, match="milliseconds at most"):
        decode("telemetry", json.dumps(message).encode())
    message["ts"] = "2026-11-26T13:05:00.250Z"
    assert decode("telemetry", json.dumps(message).encode()).ts.microsecond == 250_000


@pytest.mark.parametrize("result, reason", [("ok", "outlet busy"), ("rejected", None), ("rejected", "busy")])
def test_an_ack_carries_a_known_reason_when_and_only_when_it_refuses(result, reason):
    ack = {"v": 1, "cmd_id": "c", "action": "close", "ch": 1, "session_id": 1, "result": result,
           "energy_wh": 0, "boot_id": "b", "seq": 1, "ts": "2026-11-26T13:05:00.250Z"}
    if reason is not None:
        ack["reason"] = reason
    with pytest.raises(BadMessage):
        decode("ack", json.dumps(ack).encode())
