"""JSON log lines: one object per line, with the ids of the request, session, meter or job in hand."""
import json
import logging

from backend.core import log_context
from backend.core.json_logs import JsonFormatter, TextFormatter


def record(message: str, **extra) -> logging.LogRecord:
    made = logging.LogRecord("scanpower.test", logging.WARNING, __file__, 1, message, (), None)
    made.__dict__.update(extra)
    return made


def test_a_line_carries_the_ids_in_context_and_the_fields_given_with_it():
    with log_context.bound(request_id="r-1", meter="SP00000012"):
        log_context.add(session_id=7)
        line = json.loads(JsonFormatter().format(record("stop not acknowledged", touched=2)))
    assert (line["level"], line["logger"], line["message"]) == ("warning", "scanpower.test", "stop not acknowledged")
    assert (line["request_id"], line["meter"], line["session_id"], line["touched"]) == ("r-1", "SP00000012", 7, 2)
    assert line["time"].endswith("+00:00")


def test_ids_end_with_their_block_and_text_lines_show_them_for_people():
    with log_context.bound(job="expire_points"):
        assert TextFormatter().format(record("done")).endswith("[job=expire_points]")
    assert "job" not in json.loads(JsonFormatter().format(record("after")))


def test_an_exception_is_one_field_of_the_same_line():
    try:
        raise ValueError("boom")
    except ValueError:
        import sys
        line = json.loads(JsonFormatter().format(logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (),
                                                                   sys.exc_info())))
    assert "ValueError: boom" in line["exception"] and "\n" not in json.dumps(line)


def test_an_id_added_outside_any_request_message_or_job_sticks_to_nothing():
    log_context.add(session_id=12)  # as a service called between messages would
    assert log_context.current() == {}
    with log_context.bound(meter="SP1"):
        log_context.add(session_id=13)
        assert log_context.current() == {"meter": "SP1", "session_id": 13}
    assert log_context.current() == {}
