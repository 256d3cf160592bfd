"""Micro-batching: take what arrives within a few milliseconds, up to a size, whichever comes first."""
import queue
import time
from typing import TypeVar

T = TypeVar("T")


def next_batch(inbox: queue.Queue, first: T, max_items: int, wait_s: float) -> tuple[list[T], bool]:
    """`first` and what else arrives within `wait_s`, at most `max_items`; True when a stop (None) came."""
    batch, deadline = [first], time.monotonic() + wait_s
    while len(batch) < max_items:
        try:
            item = inbox.get_nowait()
        except queue.Empty:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                item = inbox.get(timeout=left)
            except queue.Empty:
                break
        if item is None:
            return batch, True
        batch.append(item)
    return batch, False
