"""A real local HTTP server speaking the OpenAI embeddings protocol, for testing the remote embedder.

Vectors are deterministic (seeded by a hash of model + text) and deliberately not normalised, so the
client's normalisation is exercised. A failure script decides what each incoming request gets:

    with FakeEmbeddingsServer(script=[Reply(status=429, headers={"Retry-After": "0"})]) as server:
        ...  # first request is rate-limited, the rest succeed
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest


@dataclass(frozen=True)
class Reply:
    """What one request gets instead of a normal answer. status=200 with a delay only slows it down."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    delay_seconds: float = 0.0


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


def fake_vector(*, model: str, text: str, dimensions: int) -> list[float]:
    seed = int.from_bytes(hashlib.sha256(f"{model}\0{text}".encode()).digest()[:8], "big")
    return (np.random.default_rng(seed).standard_normal(dimensions) * 3.0).tolist()


class FakeEmbeddingsServer:
    def __init__(
        self,
        *,
        dimensions: int = 384,
        script: Iterable[Reply] = (),
        reverse_order: bool = False,
    ) -> None:
        self.dimensions = dimensions
        # Answer `data` back to front, to prove the client orders by `index` and not by position.
        self.reverse_order = reverse_order
        self.requests: list[RecordedRequest] = []
        self._script: deque[Reply] = deque(script)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        # A short poll interval so shutdown() returns quickly: tests start and stop many servers.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-embeddings", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def then(self, *replies: Reply) -> None:
        with self._lock:
            self._script.extend(replies)

    def __enter__(self) -> FakeEmbeddingsServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _next_reply(self, request: RecordedRequest) -> Reply | None:
        with self._lock:
            self.requests.append(request)
            return self._script.popleft() if self._script else None

    def _answer(self, body: dict[str, Any]) -> dict[str, Any]:
        model = str(body.get("model", ""))
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = [
            {"object": "embedding", "index": index, "embedding": self._vector(model=model, text=text)}
            for index, text in enumerate(inputs)
        ]
        if self.reverse_order:
            data.reverse()
        tokens = sum(len(str(text).split()) for text in inputs)
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        return {"object": "list", "data": data, "model": model, "usage": usage}

    def _vector(self, *, model: str, text: str) -> list[float]:
        return fake_vector(model=model, text=text, dimensions=self.dimensions)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {}
                request = RecordedRequest(path=self.path, headers=dict(self.headers.items()), body=body)
                reply = fake._next_reply(request)
                if reply is not None and reply.delay_seconds:
                    time.sleep(reply.delay_seconds)
                if not self.path.rstrip("/").endswith("/v1/embeddings"):
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                elif reply is not None and (reply.status != 200 or reply.body is not None):
                    error = {"error": {"message": f"scripted {reply.status}", "type": "fake"}}
                    self._send(reply.status, reply.body if reply.body is not None else error, reply.headers)
                elif "input" not in body:
                    self._send(400, {"error": {"message": "'input' is required"}})
                else:
                    self._send(200, fake._answer(body), reply.headers if reply else {})

            def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
                encoded = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(encoded)))
                    for name, value in (headers or {}).items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(encoded)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests); nothing to tell it

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean; the requests are recorded instead

        return Handler


@pytest.fixture
def fake_embeddings_server() -> Iterator[FakeEmbeddingsServer]:
    with FakeEmbeddingsServer() as server:
        yield server
