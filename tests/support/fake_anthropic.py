"""A real HTTP server on loopback that speaks the Anthropic Messages API (non-streaming), for tests.

The real `anthropic` SDK talks to it over HTTP, so request building, headers, timeouts, error
mapping and response parsing are all exercised; only the model is scripted. Each POST to
/v1/messages takes the next scripted reply; requests are recorded for assertions.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class ScriptedReply:
    status: int
    body: dict[str, Any]
    delay_seconds: float = 0.0


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


@dataclass
class FakeAnthropicServer:
    replies: deque[ScriptedReply] = field(default_factory=deque)
    requests: list[RecordedRequest] = field(default_factory=list)
    base_url: str = ""

    def reply(self, *, body: dict[str, Any], status: int = 200, delay_seconds: float = 0.0) -> None:
        self.replies.append(ScriptedReply(status=status, body=body, delay_seconds=delay_seconds))

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
                scripted = fake.replies.popleft() if fake.replies else ScriptedReply(500, error_body())
                if scripted.delay_seconds:
                    time.sleep(scripted.delay_seconds)
                self._send(scripted.status, scripted.body)

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
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
