"""Server-sent events: a page's live figures pushed when they change, each stream short so proxies never cut it.

The browser's EventSource reconnects by itself after a stream ends; where EventSource is missing or
keeps failing (some in-app browsers), the page's script polls the same figures instead.
"""
import asyncio
import json
from collections.abc import AsyncIterator, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import StreamingResponse

TICK_SECONDS = 1.0
STREAM_SECONDS = 25.0  # then the browser reconnects: no connection is held for long
KEEPALIVE_TICKS = 10
RETRY_MS = 1500


def event_stream(request: Request, produce: Callable[[], dict], final: Callable[[dict], bool]) -> StreamingResponse:
    """Stream `produce()` (run in a worker thread) as a `message` event whenever it changes."""
    return StreamingResponse(_events(request, produce, final), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


async def _events(request: Request, produce: Callable[[], dict], final: Callable[[dict], bool]) -> AsyncIterator[str]:
    yield f"retry: {RETRY_MS}\n\n"
    last = None
    ticks = int(STREAM_SECONDS / TICK_SECONDS)
    for tick in range(ticks):
        figures = await run_in_threadpool(produce)
        text = json.dumps(figures, ensure_ascii=False, separators=(",", ":"))
        if text != last:
            yield f"data: {text}\n\n"
            last = text
        elif tick % KEEPALIVE_TICKS == 0:
            yield ": still here\n\n"
        if final(figures) or await request.is_disconnected():
            return
        await asyncio.sleep(TICK_SECONDS)
