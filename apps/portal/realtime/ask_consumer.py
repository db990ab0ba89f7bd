"""`/ws/ask/`: questions in, answer events out, with the stream limits of roadmap 5.2.

Client frames: `{"type": "ask", "question": "...", "conversation_id": 12}` (the id is optional: a
follow-up in that conversation), `{"type": "cancel"}`, `{"type": "pong"}`.
Server frames: `started`, `citation`, `token`, `done`, `error`, `end` (after every question), `cancelled`,
`ping` (docs/portal.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
import uuid
from functools import partial

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from redis.exceptions import RedisError

from apps.accounts.directory import user_socket_group
from apps.answers.streaming import CRASHED, NO_TENANT, AnswerStreamRunner, StreamEvent, on_stream_thread
from apps.core.metrics import active_streams, stream_cancel_release_seconds, stream_rejections_total, tenant_label
from apps.core.stream_slots import SlotVerdict, StreamSlots

from .admission import ADMITTED, SIGNED_OUT, admitted_answer_events
from .frames import citation_frame, done_frame, error_frame, language_of
from .identity import session_user_current

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_HEARTBEAT = 4408
CLOSE_IDLE = 4000


def estimated_tokens(text: str) -> int:
    """The usual four-characters-per-token estimate; the provider's exact count arrives with `done`."""
    return math.ceil(len(text) / 4)


def _is_an_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**63


class AskConsumer(AsyncJsonWebsocketConsumer):
    runner: AnswerStreamRunner | None = None
    stream_task: asyncio.Task | None = None
    heartbeat_task: asyncio.Task | None = None
    slots: StreamSlots | None = None
    gone = False  # the client disconnected: frames have nowhere to go
    signed_out = False  # found on a question's admission: the socket closes after it
    identity_group: str | None = None

    async def connect(self) -> None:
        user, tenant = self.scope.get("user"), self.scope.get("tenant")
        if tenant is None or user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.user, self.schema_name = user, tenant.schema_name
        self.language = language_of(self.scope)
        self.slots = StreamSlots.from_settings()
        self.last_heard = self.last_active = time.monotonic()
        # Deprovisioning tells this group to re-check at once (apps.accounts.directory).
        self.identity_group = user_socket_group(schema_name=self.schema_name, user_id=user.pk)
        await self.channel_layer.group_add(self.identity_group, self.channel_name)
        await self.accept()
        self.heartbeat_task = asyncio.create_task(self._heartbeat())

    async def disconnect(self, code: int) -> None:
        self.gone = True
        if self.identity_group is not None:
            await self.channel_layer.group_discard(self.identity_group, self.channel_name)
        if self.heartbeat_task is not None:
            self.heartbeat_task.cancel()
        await self._stop_stream()  # the client went away: stop generating for nobody
        if self.slots is not None:
            await self.slots.close()

    async def dispatch(self, message: dict) -> None:
        # Channels' own dispatch first closes stale database connections on its sync thread: a
        # thread hop per frame, a twentieth of the process's CPU under fifty streams. This consumer
        # reads the database only on the stream pool (apps/answers/streaming.py), whose threads
        # hand their connections back after each use.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    # --- incoming ----------------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs) -> None:
        self.last_heard = time.monotonic()
        try:
            content = json.loads(text_data) if text_data else None
        except (ValueError, RecursionError):  # nested too deeply: as malformed, not a crash
            content = None
        if not isinstance(content, dict):
            await self._send_error("invalid_message")
            return
        await self.receive_json(content)

    async def receive_json(self, content: dict, **kwargs) -> None:
        kind = content.get("type")
        if kind == "pong":
            return
        if kind == "cancel":
            await self._cancel_on_request()
        elif kind == "ask":
            await self._ask(content.get("question"), content.get("conversation_id"))
        else:
            await self._send_error("invalid_message")

    async def _ask(self, question: object, conversation_id: object = None) -> None:
        self.last_active = time.monotonic()
        text = question.strip() if isinstance(question, str) else ""
        if problem := self._question_problem(text, conversation_id):
            code, params = problem
            await self._send_error(code, **params)
            return
        # Who is asking and their question budget are checked on the answer's thread, first thing.
        self.runner = AnswerStreamRunner(
            schema_name=self.schema_name,
            language=self.language,
            open_events=partial(
                admitted_answer_events,
                schema_name=self.schema_name,
                session_key=self._session_key,
                user_id=self.user.pk,
                question=text,
                conversation_id=conversation_id,  # type: ignore[arg-type]  # checked by _is_an_id
            ),
        )
        self.stream_task = asyncio.create_task(self._stream(self.runner))

    def _question_problem(self, text: str, conversation_id: object) -> tuple[str, dict] | None:
        """Why this question cannot start now (an error code and its parameters), or None."""
        limit = settings.ANSWER_MAX_QUESTION_CHARS
        if not text:
            return "invalid_question", {}
        if len(text) > limit:
            return "question_too_long", {"limit": limit}
        if conversation_id is not None and not _is_an_id(conversation_id):
            return "invalid_message", {}
        if self._streaming:
            return "stream_busy", {}
        return None

    async def _cancel_on_request(self) -> None:
        """Stop the running answer; `released_ms` says how long its provider call took to let go."""
        runner = self.runner if self._streaming else None
        await self._stop_stream()
        released = runner.release_seconds if runner is not None else None
        await self.send_json(
            {"type": "cancelled", "released_ms": None if released is None else round(released * 1000, 1)}
        )

    # --- one stream --------------------------------------------------------------------------

    @property
    def _streaming(self) -> bool:
        return self.stream_task is not None and not self.stream_task.done()

    async def _stream(self, runner: AnswerStreamRunner) -> None:
        """One question, start to finish; ends with an `end` frame, or the socket when signed out."""
        stream_id = uuid.uuid4().hex
        try:
            await self._stream_with_slot(runner, stream_id)
        finally:
            if self.signed_out:
                await self._send_error("unauthenticated")
                await self.close(code=CLOSE_UNAUTHENTICATED)
            else:
                await self.send_json({"type": "end", "stream_id": stream_id})

    async def _stream_with_slot(self, runner: AnswerStreamRunner, stream_id: str) -> None:
        assert self.slots is not None
        lease = {"tenant": self.schema_name, "user_id": self.user.pk, "stream_id": stream_id}
        if not await self._acquire(lease):
            return
        renewer = asyncio.create_task(self._renew(lease))
        active_streams.labels(channel="websocket").inc()
        try:
            if not runner.start():
                return  # cancelled while waiting for the slot
            await asyncio.wait_for(self._forward(runner, stream_id), timeout=settings.PORTAL_STREAM_MAX_SECONDS)
        except TimeoutError:
            self._count_rejection("stream_timeout")
            await self._send_error("stream_timeout")
        finally:
            await self._let_go(runner)
            renewer.cancel()
            active_streams.labels(channel="websocket").dec()
            self.last_active = time.monotonic()
            with contextlib.suppress(RedisError, OSError):
                await self.slots.release(**lease)

    async def _acquire(self, lease: dict) -> bool:
        assert self.slots is not None
        try:
            verdict = await self.slots.acquire(**lease)
        except (RedisError, OSError):
            logger.warning("stream slots unavailable", exc_info=True)
            verdict = None
        if verdict is SlotVerdict.GRANTED:
            return True
        if verdict is SlotVerdict.USER_FULL:
            self._count_rejection("too_many_streams")
            await self._send_error("too_many_streams", limit=self.slots.limits.per_user)
        else:
            reason = "tenant_busy" if verdict is SlotVerdict.TENANT_FULL else "slots_unavailable"
            self._count_rejection(reason)
            await self._send_error(reason)
        return False

    async def _renew(self, lease: dict) -> None:
        assert self.slots is not None
        every = max(0.05, self.slots.limits.lease_seconds / 3)
        while True:
            await asyncio.sleep(every)
            try:
                await self.slots.renew(**lease)
            except (RedisError, OSError):
                logger.warning("stream lease renewal failed", exc_info=True)

    async def _forward(self, runner: AnswerStreamRunner, stream_id: str) -> None:
        tokens = 0
        async for event in runner.events():
            if event.type == "token":
                tokens += estimated_tokens(event.data.get("text", ""))
                if tokens > settings.PORTAL_STREAM_MAX_TOKENS:
                    runner.cancel()
                    self._count_rejection("token_limit")
                    await self._send_error("token_limit")
                    return
                await self.send_json({"type": "token", "text": event.data.get("text", "")})
            elif event.type in (SIGNED_OUT, NO_TENANT):  # nobody may be answered on this socket any more
                self.signed_out = True
                return
            else:
                await self._send_other(event, stream_id)

    async def _send_other(self, event: StreamEvent, stream_id: str) -> None:
        if event.type == ADMITTED:
            self.user = event.data["user"]  # today's flags and groups, as the answer used them
            await self.send_json({"type": "started", "stream_id": stream_id})
        elif event.type == "citation":
            await self.send_json(citation_frame(event.data))
        elif event.type == "done":
            await self.send_json(done_frame(event.data))
        elif event.type == "error":  # its message, if any, is already in the page's language
            code, message = str(event.data.get("code") or "failed"), event.data.get("message", "")
            params = {key: value for key, value in event.data.items() if key not in ("code", "message")}
            await self._send_error(code, message=message, **params)
        elif event.type == CRASHED:
            await self._send_error("internal_error")
        # `trace` stays on the server: it names internal steps and timings.

    async def _let_go(self, runner: AnswerStreamRunner) -> None:
        """Cancel the thread and wait a moment for it to release its provider call."""
        released = await runner.stop(settings.PORTAL_STREAM_CANCEL_GRACE_SECONDS)
        if released:
            stream_cancel_release_seconds.observe(runner.release_seconds or 0.0)
        elif released is False:
            # The thread is blocked inside a provider call; it stops at its next event or timeout.
            logger.warning(
                "answer stream still running %.1fs after cancel", settings.PORTAL_STREAM_CANCEL_GRACE_SECONDS
            )

    async def _stop_stream(self) -> None:
        task = self.stream_task
        if task is None or task.done():
            return
        if self.runner is not None:
            self.runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    # --- liveness ----------------------------------------------------------------------------

    async def _heartbeat(self) -> None:
        """Ping the client; close a socket that stopped answering, or that sits idle too long."""
        while True:
            await asyncio.sleep(settings.PORTAL_WS_HEARTBEAT_SECONDS)
            now = time.monotonic()
            streaming = self._streaming
            if now - self.last_heard > settings.PORTAL_WS_HEARTBEAT_TIMEOUT_SECONDS:
                await self._close_with("heartbeat_timeout", CLOSE_HEARTBEAT)
                return
            if not streaming and now - self.last_active > settings.PORTAL_WS_IDLE_TIMEOUT_SECONDS:
                await self._close_with("idle_timeout", CLOSE_IDLE)
                return
            if not await self._still_signed_in():
                return
            await self.send_json({"type": "ping"})

    async def identity_changed(self, message: dict) -> None:
        """The user was deprovisioned (apps.accounts.directory): re-check now, not at the next heartbeat."""
        if not self.gone:
            await self._still_signed_in()

    async def _still_signed_in(self) -> bool:
        """Re-read the session and the user; a signed-out, deactivated or changed user ends the socket."""
        user = await on_stream_thread(
            session_user_current, schema_name=self.schema_name, session_key=self._session_key, user_id=self.user.pk
        )
        if user is None:
            await self._close_with("unauthenticated", CLOSE_UNAUTHENTICATED)
            return False
        self.user = user  # today's flags and groups: the next answer uses today's principals
        return True

    @property
    def _session_key(self) -> str | None:
        return getattr(self.scope.get("session"), "session_key", None)

    async def _close_with(self, code: str, close_code: int) -> None:
        await self._stop_stream()
        await self._send_error(code)
        await self.close(code=close_code)

    # --- helpers -----------------------------------------------------------------------------

    async def send(self, text_data: str | None = None, bytes_data: bytes | None = None, close: bool = False) -> None:
        if not self.gone:
            await super().send(text_data=text_data, bytes_data=bytes_data, close=close)

    async def _send_error(self, code: str, *, message: str = "", **params: object) -> None:
        await self.send_json(error_frame(code, language=self.language, message=message, **params))

    def _count_rejection(self, reason: str) -> None:
        stream_rejections_total.labels(reason=reason, tenant=tenant_label(self.schema_name)).inc()
