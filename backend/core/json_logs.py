"""Log lines as JSON objects, one per line, with the ids of the request, session, meter or job they belong to.

The standard library's logging with a small formatter: a line is json.dumps of a dict, which needs no
dependency, and the field names are ours (time, level, logger, message, the context ids, the `extra`s).
"""
import json
import logging
from datetime import UTC, datetime

from backend.core import log_context

# Attributes every LogRecord has; anything else on a record came from `extra=` and is logged as a field.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {"time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
                "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()}
        line |= log_context.current()
        line |= {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """For people at a terminal (`scanpower run`): the usual line, with the context ids after it."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        ids = " ".join(f"{k}={v}" for k, v in log_context.current().items())
        return f"{text} [{ids}]" if ids else text


QUIET = ("amqtt", "transitions", "apscheduler", "uvicorn.error", "uvicorn.access", "alembic")


def configure(level: str, as_json: bool) -> None:
    """Root logging for a process: one handler on stderr, JSON or text."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if as_json else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in QUIET:
        logging.getLogger(noisy).setLevel(logging.WARNING)
