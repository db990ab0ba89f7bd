"""Run the (synchronous) answer service on a worker thread and hand its events to the event loop.

The answer pipeline does blocking I/O (PostgreSQL, Neo4j, the provider's HTTP stream), so each
stream runs on a thread of a per-process pool (settings.PORTAL_STREAM_THREADS); the per-user and
per-tenant slots bound how many streams exist. Between streams a thread gives its database
connection back to the web process's connection pool (apps/core/database.py); opening one per
stream cost more than a cached answer.
Cancelling sets a flag the thread checks after every event; it then closes the event iterator,
which closes the provider's stream and with it the upstream HTTP request
(apps/integrations/llm/base.py).
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

from apps.answers.events import AnswerEvent
from apps.answers.models import Conversation
from apps.answers.services import answer_question
from apps.core.process_cache import process_cache_scope
from apps.tenants.context import in_tenant

logger = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class StreamEvent:
    type: str
    data: dict


_FINISHED = StreamEvent(type="_finished", data={})
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def stream_pool() -> ThreadPoolExecutor:
    """The process's answer-stream threads, created on first use (after any fork)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=settings.PORTAL_STREAM_THREADS, thread_name_prefix="answer-stream")
        return _pool


async def on_stream_thread(function: Callable[..., T], /, **kwargs: object) -> T:
    """Run a short blocking call (a session re-read, a budget check) on the stream pool.

    Not Channels' `database_sync_to_async`: that runs every call of the process on one shared
    thread, so 50 sockets asking at once queued behind each other's checks before their first token.
    """

    def call() -> T:
        close_old_connections()
        try:
            return function(**kwargs)
        finally:
            close_old_connections()  # back to the pool, as after a stream

    return await asyncio.get_running_loop().run_in_executor(stream_pool(), call)


CRASHED = "crashed"  # the runner's own event type when the answer service raised


def answer_events(*, user, question: str, conversation_id: int | None = None) -> Iterator[AnswerEvent]:
    return answer_question(user=user, question=question, stream=True, channel="portal", conversation_id=conversation_id)


class AnswerStreamRunner:
    """One answer stream. `events()` yields StreamEvents until the thread is done."""

    def __init__(
        self, *, schema_name: str, user, question: str, language: str, conversation_id: int | None = None
    ) -> None:
        self.schema_name = schema_name
        self.user = user
        self.question = question
        self.conversation_id = conversation_id
        self.language = language  # the pipeline's own texts (refusals, errors) follow the page
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

    async def wait_finished(self, timeout: float) -> bool:
        """Wait (without blocking the loop) until the thread let go of the provider call."""
        deadline = time.monotonic() + timeout
        while not self._finished.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return self._finished.is_set()

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
        except ValidationError:  # the service refused the question before running anything
            self._emit(StreamEvent(type="error", data={"code": "invalid_question"}))
        except Conversation.DoesNotExist:  # not the user's thread (or removed from their history)
            self._emit(StreamEvent(type="error", data={"code": "no_such_conversation"}))
        except Exception:  # the thread must always report back; the page gets an error frame
            logger.exception("answer stream failed", extra={"tenant": self.schema_name})
            self._emit(StreamEvent(type=CRASHED, data={}))
        finally:
            close_old_connections()  # back to the pool (or kept, with persistent connections)
            self.finished_at = time.monotonic()
            self._finished.set()
            self._emit(_FINISHED)

    def _forward(self) -> None:
        stream = answer_events(user=self.user, question=self.question, conversation_id=self.conversation_id)
        try:
            for event in stream:
                if self._cancelled.is_set():
                    break
                self._emit(StreamEvent(type=event.type, data=event.data))
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()
