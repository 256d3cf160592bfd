"""Ids that every log line of the current request, message or job carries (request, session, meter, job)."""
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_context: ContextVar[dict[str, object]] = ContextVar("log_context", default={})


def current() -> dict[str, object]:
    return _context.get()


def add(**fields: object) -> None:
    """Add ids to the current context (until the request, message or job ends)."""
    _context.set(_context.get() | {k: v for k, v in fields.items() if v is not None})


@contextmanager
def bound(**fields: object) -> Iterator[None]:
    """These ids on every log line inside the block, and only there."""
    token = _context.set(_context.get() | {k: v for k, v in fields.items() if v is not None})
    try:
        yield
    finally:
        _context.reset(token)
