"""Server-Sent Events over a stream of AnswerEvents.

Under ASGI (daphne) Django must be given an async iterator, or it reads a sync one to the end
before sending anything: the answer then runs on the shared answer-stream pool
(apps/answers/streaming.py), as the portal's socket answers do. When the client disconnects Django
cancels the response; either way the answer stream is closed, which cancels generation.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django_tenants.utils import tenant_context
from redis.exceptions import RedisError

from apps.answers.streaming import CRASHED, NO_TENANT, AnswerStreamRunner, on_stream_thread
from apps.core.metrics import active_streams
from apps.core.stream_slots import SlotVerdict, SyncStreamSlots

from .errors import StreamSlotsUnavailable, TenantStreamsBusy, TooManyStreams

logger = logging.getLogger(__name__)

STREAM_OPENED = b": stream opened\n\n"
_END = object()


@dataclass
class StreamLease:
    """One stream slot held for the life of an SSE response (the same slots as the portal's streams)."""

    slots: SyncStreamSlots
    tenant: str
    user_id: int
    stream_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    renewed_at: float = field(default_factory=time.monotonic)

    @classmethod
    def acquire(cls, *, tenant: str, user_id: int) -> StreamLease:
        """A granted lease, or the API error that says why not (fails closed, as the portal does)."""
        lease = cls(slots=SyncStreamSlots.from_settings(), tenant=tenant, user_id=user_id)
        try:
            verdict = lease.slots.acquire(**lease._key())
        except (RedisError, OSError) as error:
            lease.slots.close()
            logger.warning("stream slots unavailable: %s", type(error).__name__)
            raise StreamSlotsUnavailable from error
        if verdict is not SlotVerdict.GRANTED:
            lease.slots.close()
            raise TooManyStreams if verdict is SlotVerdict.USER_FULL else TenantStreamsBusy
        return lease

    def renew_if_due(self) -> None:
        """Called as events pass: renews a third of a lease after the last renewal."""
        if time.monotonic() - self.renewed_at < self.slots.limits.lease_seconds / 3:
            return
        self.renewed_at = time.monotonic()
        try:
            self.slots.renew(**self._key())
        except (RedisError, OSError):
            logger.warning("stream lease renewal failed", exc_info=True)

    def release(self) -> None:
        # A release that fails is not fatal: the lease lapses on its own.
        with contextlib.suppress(RedisError, OSError):
            self.slots.release(**self._key())
        self.slots.close()

    def _key(self) -> dict[str, Any]:
        return {"tenant": self.tenant, "user_id": self.user_id, "stream_id": self.stream_id}


def sse_frame(event_type: str, data: Any) -> bytes:
    # json.dumps never emits a raw newline, so one `data:` line always holds the whole payload.
    return f"event: {event_type}\ndata: {json.dumps(data, separators=(',', ':'), default=str)}\n\n".encode()


def _failure_frame() -> bytes:
    return sse_frame("error", {"code": "failed", "message": "The answer could not be completed."})


def _next_in(tenant: Any, events: Iterator[Any], lease: StreamLease | None) -> Any:
    # The stream outlives the view: each step runs in the caller's tenant schema, whatever the server
    # does with the connection in between.
    with tenant_context(tenant):
        if lease is not None:
            lease.renew_if_due()
        return next(events, _END)


def _close_in(tenant: Any, events: Iterator[Any], lease: StreamLease | None) -> None:
    try:
        close = getattr(events, "close", None)
        if close is not None:
            with tenant_context(tenant):
                close()  # the answer service records the question as cancelled
    finally:
        if lease is not None:
            lease.release()


def sse_sync(events: Iterator[Any], *, tenant: Any, lease: StreamLease | None = None) -> Iterator[bytes]:
    """For WSGI servers and the test client: closing the response closes this generator."""
    active_streams.labels(channel="sse").inc()
    try:
        yield STREAM_OPENED
        while (event := _next_in(tenant, events, lease)) is not _END:
            yield sse_frame(event.type, event.data)
    except Exception as error:  # noqa: BLE001 - the status line is already sent: tell the client in-band
        # The type only: an exception's message may quote the question or a passage.
        logger.error("answer stream failed: %s", type(error).__name__)
        yield _failure_frame()
    finally:
        _close_in(tenant, events, lease)
        active_streams.labels(channel="sse").dec()


async def sse_async(
    events: Iterator[Any], *, tenant: Any, language: str, lease: StreamLease | None = None
) -> AsyncIterator[bytes]:
    """For ASGI (daphne): the events run on the answer-stream pool, as the portal's socket streams do."""
    runner = AnswerStreamRunner(
        schema_name=tenant.schema_name,
        language=language,
        open_events=lambda: events,
        between_events=lease.renew_if_due if lease is not None else None,
    )
    active_streams.labels(channel="sse").inc()
    try:
        yield STREAM_OPENED
        runner.start()
        async for event in runner.events():
            yield _failure_frame() if event.type in (CRASHED, NO_TENANT) else sse_frame(event.type, event.data)
    finally:
        # Also reached when Django cancels us on disconnect: the thread closes the answer stream,
        # which stops the provider.
        await runner.stop(settings.PORTAL_STREAM_CANCEL_GRACE_SECONDS)
        if lease is not None:
            await on_stream_thread(lease.release)
        active_streams.labels(channel="sse").dec()
