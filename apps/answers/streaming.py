"""Answer events for an event loop: the one bridge the portal's socket and the API's SSE both use.

The answer pipeline does blocking I/O (PostgreSQL, Neo4j, the provider's HTTP stream), so each
stream runs on a thread of a per-process pool (settings.PORTAL_STREAM_THREADS, shared by both
surfaces); their stream slots bound how many streams exist. Events reach the loop through a queue,
so a stream waiting for its provider holds only its own thread, and both surfaces cancel, log and
give back their connections the same way. Between streams a thread gives its database connection back to the
web process's connection pool (apps/core/database.py); opening one per stream cost more than a
cached answer.

Cancelling sets a flag the thread checks after every event; it then closes the event iterator,
which closes the provider's stream and with it the upstream HTTP request
(apps/integrations/llm/base.py), and the answer service records the question as cancelled.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import close_old_connections
from django.utils import translation

from apps.core.errors import TenantContextRequired
from apps.core.process_cache import process_cache_scope
from apps.core.thread_pools import process_thread_pool
from apps.tenants.context import in_tenant

from .events import AnswerEvent
from .models import Conversation

logger = logging.getLogger(__name__)
T = TypeVar("T")

CRASHED = "crashed"  # the runner's own event type when the answer service raised
NO_TENANT = "no_tenant"  # ... and when the tenant was switched off or removed: nobody may act in it


@dataclass(frozen=True)
class StreamEvent:
    type: str
    data: dict


_FINISHED = StreamEvent(type="_finished", data={})


def stream_pool() -> ThreadPoolExecutor:
    """The process's answer-stream threads."""
    return process_thread_pool("answer-stream", size=settings.PORTAL_STREAM_THREADS)


async def on_stream_thread(function: Callable[..., T], /, **kwargs: object) -> T:
    """Run a short blocking call (a session re-read, a budget check, a lease release) on the pool.

    Not Channels' `database_sync_to_async`: outside a request (a consumer has no
    ThreadSensitiveContext) that runs every such call of the process on one shared thread.
    """

    def call() -> T:
        close_old_connections()
        try:
            with process_cache_scope():  # a scope, like a request: the tenant row is not read each time
                return function(**kwargs)
        finally:
            close_old_connections()  # back to the pool, as after a stream

    return await asyncio.get_running_loop().run_in_executor(stream_pool(), call)


class AnswerStreamRunner:
    """One answer stream: `start()` it, then read `events()` until the thread is done.

    `open_events` is called on the stream's thread, inside the tenant's schema, and returns the
    answer service's event iterator (or an iterator already made: a generator has not run yet).
    `between_events`, if given, runs on that thread after each event (an SSE lease's renewal).
    """

    def __init__(
        self,
        *,
        schema_name: str,
        language: str,
        open_events: Callable[[], Iterator[AnswerEvent]],
        between_events: Callable[[], None] | None = None,
    ) -> None:
        self.schema_name = schema_name
        self.language = language  # the pipeline's own texts (refusals, errors) follow the caller's
        self._open_events = open_events
        self._between_events = between_events
        self._cancelled = threading.Event()
        self._finished = threading.Event()
        self._queue: asyncio.Queue[StreamEvent] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        self.started = False
        self.cancel_requested_at: float | None = None
        self.finished_at: float | None = None

    def start(self) -> bool:
        """Start the thread unless the stream was cancelled before it began."""
        if self._cancelled.is_set():
            return False
        self.started = True
        stream_pool().submit(self._run)
        return True

    def cancel(self) -> None:
        if self.cancel_requested_at is None:
            self.cancel_requested_at = time.monotonic()
        self._cancelled.set()

    async def stop(self, grace_seconds: float) -> bool | None:
        """Cancel and wait (without blocking the loop) for the thread to let go of its provider call.

        None when there was nothing to stop; False when the thread is still blocked in a provider call
        after the grace period (it stops at its next event or at the provider's timeout)."""
        if self.finished or not self.started:
            return None
        self.cancel()
        deadline = time.monotonic() + grace_seconds
        while not self._finished.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return self._finished.is_set()

    @property
    def finished(self) -> bool:
        return self._finished.is_set()

    @property
    def release_seconds(self) -> float | None:
        """From the cancel request to the thread letting go of its provider call (None if not both)."""
        if self.cancel_requested_at is None or self.finished_at is None:
            return None
        return max(0.0, self.finished_at - self.cancel_requested_at)

    async def events(self) -> AsyncIterator[StreamEvent]:
        while True:
            event = await self._queue.get()
            if event is _FINISHED:
                return
            yield event

    def _emit(self, event: StreamEvent) -> None:
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, event)
        except RuntimeError:
            self.cancel()  # the loop is gone (server shutting down): stop generating for nobody

    def _run(self) -> None:
        close_old_connections()
        try:
            with process_cache_scope(), in_tenant(self.schema_name), translation.override(self.language):
                self._forward()
        except TenantContextRequired:
            self._emit(StreamEvent(type=NO_TENANT, data={}))
        except ValidationError:  # the service refused the question before running anything
            self._emit(StreamEvent(type="error", data={"code": "invalid_question"}))
        except Conversation.DoesNotExist:  # not the user's thread (or removed from their history)
            self._emit(StreamEvent(type="error", data={"code": "no_such_conversation"}))
        except Exception as error:  # noqa: BLE001 - the thread must always report back; the caller says it failed
            # The type only: an exception's message may quote the question or a passage.
            logger.error("answer stream failed: %s", type(error).__name__, extra={"tenant": self.schema_name})
            self._emit(StreamEvent(type=CRASHED, data={}))
        finally:
            close_old_connections()  # back to the pool (or kept, with persistent connections)
            self.finished_at = time.monotonic()
            self._finished.set()
            self._emit(_FINISHED)

    def _forward(self) -> None:
        stream = self._open_events()
        try:
            for event in stream:
                if self._cancelled.is_set():
                    break
                self._emit(StreamEvent(type=event.type, data=event.data))
                if self._between_events is not None:
                    self._between_events()
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()
