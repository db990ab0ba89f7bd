"""Server-Sent Events over a stream of AnswerEvents.

Under ASGI (daphne) Django must be given an async iterator, or it reads a sync one to the end
before sending anything. Each event is then pulled on the request's own thread (thread-sensitive,
so the tenant's database connection is the one in use). When the client disconnects Django
cancels the response; either way the answer stream is closed, which cancels generation.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

from asgiref.sync import sync_to_async
from django.db import connection

from apps.core.metrics import active_streams

logger = logging.getLogger(__name__)

STREAM_OPENED = b": stream opened\n\n"
_END = object()


def sse_frame(event_type: str, data: Any) -> bytes:
    # json.dumps never emits a raw newline, so one `data:` line always holds the whole payload.
    return f"event: {event_type}\ndata: {json.dumps(data, separators=(',', ':'), default=str)}\n\n".encode()


def _failure_frame() -> bytes:
    return sse_frame("error", {"code": "failed", "message": "The answer could not be completed."})


def _next_in(tenant: Any, events: Iterator[Any]) -> Any:
    # The stream outlives the view: make sure each step runs in the caller's tenant schema, whatever
    # the server did with the connection in between.
    connection.set_tenant(tenant)  # type: ignore[attr-defined]
    return next(events, _END)


def _close_in(tenant: Any, events: Iterator[Any]) -> None:
    close = getattr(events, "close", None)
    if close is not None:
        connection.set_tenant(tenant)  # type: ignore[attr-defined]
        close()  # the answer service records the question as cancelled


def sse_sync(events: Iterator[Any], *, tenant: Any) -> Iterator[bytes]:
    """For WSGI servers and the test client: closing the response closes this generator."""
    active_streams.labels(channel="sse").inc()
    try:
        yield STREAM_OPENED
        while (event := _next_in(tenant, events)) is not _END:
            yield sse_frame(event.type, event.data)
    except Exception as error:  # noqa: BLE001 - the status line is already sent: tell the client in-band
        # The type only: an exception's message may quote the question or a passage.
        logger.error("answer stream failed: %s", type(error).__name__)
        yield _failure_frame()
    finally:
        _close_in(tenant, events)
        active_streams.labels(channel="sse").dec()


async def sse_async(events: Iterator[Any], *, tenant: Any) -> AsyncIterator[bytes]:
    pull = sync_to_async(_next_in, thread_sensitive=True)
    active_streams.labels(channel="sse").inc()
    try:
        yield STREAM_OPENED
        while (event := await pull(tenant, events)) is not _END:
            yield sse_frame(event.type, event.data)
    except Exception as error:  # noqa: BLE001 - see sse_sync
        logger.error("answer stream failed: %s", type(error).__name__)
        yield _failure_frame()
    finally:
        # Also reached when Django cancels us on disconnect: the generator's cleanup stops the provider.
        await sync_to_async(_close_in, thread_sensitive=True)(tenant, events)
        active_streams.labels(channel="sse").dec()
