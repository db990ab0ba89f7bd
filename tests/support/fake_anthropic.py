"""A real HTTP server on loopback that speaks the Anthropic Messages API, for tests.

The real `anthropic` SDK talks to it over HTTP, so request building, headers, timeouts, error
mapping and response parsing are all exercised; only the model is scripted. Each POST to
/v1/messages takes the next scripted reply (`reply` for a JSON body or error, `reply_stream` for a
server-sent-event stream); requests are recorded for assertions.

Streams are sent token by token with an optional delay, can fail part-way with an SSE `error`
event, and record how they ended: `streams[i].disconnected` is set when the client closed the
connection before the stream was complete (so tests can prove cancellation reaches upstream).
`in_flight` / `max_in_flight` count requests being answered at the same time. When the script is
empty, `default_stream` (if set, e.g. for load tests) answers every request; otherwise a 500.
"""

from __future__ import annotations

import json
import re
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from django.test import override_settings


@dataclass
class StreamScript:
    """One SSE reply: `tokens` are sent as text_delta events, `token_delay_seconds` apart."""

    tokens: list[str]
    model: str = "claude-test"
    input_tokens: int = 10
    output_tokens: int | None = None  # None: one per token
    token_delay_seconds: float = 0.0
    error_after_tokens: int | None = None  # send an SSE error event after this many tokens
    error_kind: str = "overloaded_error"
    stop_reason: str = "end_turn"


@dataclass
class ScriptedReply:
    status: int
    body: dict[str, Any]
    delay_seconds: float = 0.0
    stream: StreamScript | None = None


@dataclass
class StreamOutcome:
    """How one streamed reply ended, as the server saw it."""

    tokens_sent: int = 0
    completed: bool = False
    disconnected: bool = False
    ended: threading.Event = field(default_factory=threading.Event)


@dataclass
class RecordedRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


def tool_use_message(*, name: str, tool_input: dict[str, Any], model: str = "claude-test") -> dict[str, Any]:
    """A Messages API response whose only content block is a tool call."""
    return {
        "id": "msg_fake_01",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "tool_use", "id": "toolu_fake_01", "name": name, "input": tool_input}],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 10},
    }


def text_message(*, text: str, model: str = "claude-test") -> dict[str, Any]:
    return {
        "id": "msg_fake_02",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 10},
    }


def error_body(*, kind: str = "api_error", message: str = "Internal server error") -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}}


# Status codes and error types the Messages API uses for the failures the router falls back on.
RATE_LIMITED = (429, "rate_limit_error")
OVERLOADED = (529, "overloaded_error")
SERVER_ERROR = (500, "api_error")
BAD_REQUEST = (400, "invalid_request_error")

_TOKEN = re.compile(r"\S+\s*|\s+")


def split_tokens(text: str) -> list[str]:
    """Word-sized tokens with their trailing space, so the deltas join back to `text`."""
    return _TOKEN.findall(text)


def sse_events(script: StreamScript) -> tuple[list[str], list[str], list[str]]:
    """The SSE frames of a reply: (before the tokens, one per token, after the tokens)."""
    output_tokens = script.output_tokens if script.output_tokens is not None else len(script.tokens)
    message: dict[str, Any] = {
        "id": "msg_fake_stream",
        "type": "message",
        "role": "assistant",
        "model": script.model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": script.input_tokens, "output_tokens": 1},
    }
    head = [
        _frame("message_start", {"type": "message_start", "message": message}),
        _frame(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
        _frame("ping", {"type": "ping"}),
    ]
    body = [
        _frame(
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": token}},
        )
        for token in script.tokens
    ]
    tail = [
        _frame("content_block_stop", {"type": "content_block_stop", "index": 0}),
        _frame(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": script.stop_reason, "stop_sequence": None},
                "usage": {"output_tokens": output_tokens},
            },
        ),
        _frame("message_stop", {"type": "message_stop"}),
    ]
    return head, body, tail


def _frame(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


@dataclass
class FakeAnthropicServer:
    replies: deque[ScriptedReply] = field(default_factory=deque)
    requests: list[RecordedRequest] = field(default_factory=list)
    streams: list[StreamOutcome] = field(default_factory=list)
    default_stream: StreamScript | None = None
    base_url: str = ""
    in_flight: int = 0
    max_in_flight: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def reply(self, *, body: dict[str, Any], status: int = 200, delay_seconds: float = 0.0) -> None:
        self.replies.append(ScriptedReply(status=status, body=body, delay_seconds=delay_seconds))

    def reply_error(self, error: tuple[int, str], *, delay_seconds: float = 0.0) -> None:
        """A scripted API error, e.g. `reply_error(OVERLOADED)`."""
        status, kind = error
        self.reply(status=status, body=error_body(kind=kind, message=f"fake {kind}"), delay_seconds=delay_seconds)

    def reply_stream(
        self,
        text: str | list[str],
        *,
        delay_seconds: float = 0.0,
        token_delay_seconds: float = 0.0,
        input_tokens: int = 10,
        output_tokens: int | None = None,
        error_after_tokens: int | None = None,
        error_kind: str = "overloaded_error",
        model: str = "claude-test",
    ) -> StreamScript:
        """A streamed reply; `delay_seconds` passes before the response headers (a slow first byte)."""
        script = StreamScript(
            tokens=split_tokens(text) if isinstance(text, str) else list(text),
            model=model,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            token_delay_seconds=token_delay_seconds,
            error_after_tokens=error_after_tokens,
            error_kind=error_kind,
        )
        self.replies.append(ScriptedReply(status=200, body={}, delay_seconds=delay_seconds, stream=script))
        return script

    def wait_for_stream_end(self, index: int = -1, *, timeout: float = 5.0) -> StreamOutcome:
        """The outcome of a streamed reply once the server has finished or lost it."""
        deadline = time.monotonic() + timeout
        while not self.streams and time.monotonic() < deadline:
            time.sleep(0.01)
        outcome = self.streams[index]
        if not outcome.ended.wait(max(0.0, deadline - time.monotonic())):
            raise AssertionError("the fake server's stream did not end in time")
        return outcome

    def _enter(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _next_reply(self) -> ScriptedReply:
        with self._lock:
            if self.replies:
                return self.replies.popleft()
        if self.default_stream is not None:
            return ScriptedReply(status=200, body={}, stream=self.default_stream)
        return ScriptedReply(500, error_body())

    def __enter__(self) -> FakeAnthropicServer:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                if self.path.split("?")[0] != "/v1/messages":
                    self._send(404, error_body(kind="not_found_error", message="Not found"))
                    return
                fake.requests.append(
                    RecordedRequest(
                        path=self.path, headers={k.lower(): v for k, v in self.headers.items()}, body=json.loads(raw)
                    )
                )
                scripted = fake._next_reply()
                fake._enter()
                try:
                    if scripted.stream is not None:
                        self._stream(scripted)
                        return
                    if scripted.delay_seconds:
                        time.sleep(scripted.delay_seconds)
                    self._send(scripted.status, scripted.body)
                finally:
                    fake._leave()

            def _stream(self, scripted: ScriptedReply) -> None:
                assert scripted.stream is not None
                outcome = StreamOutcome()
                fake.streams.append(outcome)
                try:
                    self._send_stream(scripted, outcome)
                except (BrokenPipeError, ConnectionResetError):
                    outcome.disconnected = True
                finally:
                    outcome.ended.set()

            def _send_stream(self, scripted: ScriptedReply, outcome: StreamOutcome) -> None:
                script = scripted.stream
                assert script is not None
                if self._client_gone_within(scripted.delay_seconds):
                    outcome.disconnected = True
                    return
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("cache-control", "no-cache")
                self.send_header("request-id", "req_fake_stream")
                self.end_headers()
                head, body, tail = sse_events(script)
                self._write(head)
                for number, frame in enumerate(body):
                    if script.error_after_tokens is not None and number == script.error_after_tokens:
                        self._write([_frame("error", error_body(kind=script.error_kind, message="fake stream error"))])
                        return
                    if number and self._client_gone_within(script.token_delay_seconds):
                        outcome.disconnected = True
                        return
                    self._write([frame])
                    outcome.tokens_sent += 1
                if script.error_after_tokens is not None and script.error_after_tokens >= len(body):
                    self._write([_frame("error", error_body(kind=script.error_kind, message="fake stream error"))])
                    return
                self._write(tail)
                outcome.completed = True

            def _write(self, frames: list[str]) -> None:
                self.wfile.write("".join(frames).encode())
                self.wfile.flush()

            def _client_gone_within(self, seconds: float) -> bool:
                """Wait up to `seconds`, returning early (True) if the client closes the connection."""
                deadline = time.monotonic() + seconds
                while True:
                    remaining = deadline - time.monotonic()
                    readable, _, _ = select.select([self.connection], [], [], max(0.0, remaining))
                    if readable:
                        try:
                            if self.connection.recv(1, socket.MSG_PEEK) == b"":
                                return True
                        except (ConnectionResetError, BrokenPipeError):
                            return True
                        time.sleep(min(0.01, max(0.0, remaining)))  # unexpected bytes; keep waiting
                    if remaining <= 0:
                        return False

            def _send(self, status: int, body: dict[str, Any]) -> None:
                payload = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(payload)))
                    self.send_header("request-id", "req_fake")
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test); nothing to answer

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@contextmanager
def claude_answers(
    server: FakeAnthropicServer, *, speculative: bool = True, judges_evidence: bool = True, **overrides
) -> Iterator[None]:
    """Answers come from the real Anthropic provider and SDK, talking to the fake server only
    (speculative and judging borderline evidence, as configured by default: the request may go out
    before the evidence is judged, and borderline evidence is left to the model)."""
    provider = {
        "BACKEND": "apps.integrations.llm.anthropic_provider.AnthropicProvider",
        "MODEL": "claude-test",
        "MAX_CONCURRENCY": 4,
        "TIMEOUT": 10.0,
        "METERED": False,
        "SPECULATIVE": speculative,
        "JUDGES_EVIDENCE": judges_evidence,
        "OPTIONS": {"api_key": "sk-test-answers", "base_url": server.base_url},
    }
    with override_settings(LLM_PROVIDERS={"anthropic": provider}, LLM_DEFAULT_ORDER=["anthropic"], **overrides):
        yield
