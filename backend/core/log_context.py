"""Ids that every log line of the current request, message or job carries (request, session, meter, job)."""
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType

_OUTSIDE = MappingProxyType({})  # no request, message or job in hand: nothing to add to
_context: ContextVar = ContextVar("log_context", default=_OUTSIDE)


def current() -> dict[str, object]:
    return dict(_context.get())


def add(**fields: object) -> None:
    """Add ids to the request, message or job in hand, until it ends; outside one (a worker between messages,
    a test calling a service) this does nothing, so an id never sticks to later lines of a thread."""
    block = _context.get()
    if block is not _OUTSIDE:
        block.update({k: v for k, v in fields.items() if v is not None})


@contextmanager
def bound(**fields: object) -> Iterator[None]:
    """These ids on every log line inside the block, and only there."""
    token = _context.set(dict(_context.get()) | {k: v for k, v in fields.items() if v is not None})
    try:
        yield
    finally:
        _context.reset(token)
