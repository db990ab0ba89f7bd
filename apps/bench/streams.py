"""The answer-stream benchmark behind `manage.py bench_streams`: many sockets, many questions.

Each of `concurrency` clients keeps one answer streaming at a time until the time is up, timing the
first token and the finished answer. Its questions are asked in turn by `users_per_client` bench
users (sessions created in the tenant's schema), one socket each, and each socket is one
conversation (every question after its first is a follow-up, rewritten from the thread). Several
users per client keep each user's pace near one question a second: every user's questions draw
from their question budget (2 a second by default, apps/tenants/rate_limits.py), and a benchmark
of the streams must not measure the budget instead. Then `cancel_probes`
clients each ask once and cancel as soon as the stream starts; the server's `cancelled` frame says
how long the provider call took to let go (`released_ms`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django_tenants.utils import schema_context

from apps.accounts.models import User

DEFAULT_QUESTIONS = (
    "What is the refund policy?",
    "How many days of annual leave do I get?",
    "How do I report a security incident?",
    "Which expenses can I claim?",
    "What happens in my first week?",
)
BENCH_USER_PREFIX = "bench-streams-"


@dataclass
class BenchResult:
    ttft_ms: list[float] = field(default_factory=list)
    answer_ms: list[float] = field(default_factory=list)
    completed: int = 0
    failed: int = 0
    errors: Counter = field(default_factory=Counter)
    release_ms: list[float] = field(default_factory=list)
    cancel_probes: int = 0
    finished_before_cancel: int = 0


def bench_sessions(*, schema_name: str, count: int) -> list[str]:
    """Session keys of `count` bench users of the tenant (created once, without a usable password)."""
    keys = []
    with schema_context(schema_name):
        for number in range(1, count + 1):
            user, created = User.objects.get_or_create(username=f"{BENCH_USER_PREFIX}{number:03d}")
            if created:
                user.set_unusable_password()
                user.save(update_fields=["password"])
            session = SessionStore()
            session[SESSION_KEY] = str(user.pk)
            session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
            session[HASH_SESSION_KEY] = user.get_session_auth_hash()
            session.create()
            keys.append(str(session.session_key))
    return keys


def percentile(values: list[float], share: float) -> float | None:
    """Nearest-rank percentile; None without values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(share * len(ordered) + 0.5)))
    return round(ordered[rank - 1], 1)


def summary(result: BenchResult, *, concurrency: int, seconds: float) -> dict:
    def spread(values: list[float]) -> dict:
        return {"p50": percentile(values, 0.5), "p95": percentile(values, 0.95), "max": percentile(values, 1.0)}

    return {
        "concurrency": concurrency,
        "seconds": seconds,
        "completed": result.completed,
        "failed": result.failed,
        "errors": dict(result.errors),
        "answers_per_second": round(result.completed / seconds, 2) if seconds else None,
        "ttft_ms": spread(result.ttft_ms),
        "answer_ms": spread(result.answer_ms),
        "cancel": {
            "probes": result.cancel_probes,
            "released": len(result.release_ms),
            "finished_before_cancel": result.finished_before_cancel,
            "release_ms": spread(result.release_ms),
        },
    }


@dataclass(frozen=True)
class Target:
    url: str
    connect_host: str | None  # dial this address, keep the URL's host in Host and Origin
    session_keys: list[str]
    questions: tuple[str, ...]
    unique_questions: bool = False

    def origin(self) -> str:
        parts = urlsplit(self.url)
        scheme = "https" if parts.scheme == "wss" else "http"
        return f"{scheme}://{parts.netloc}"

    def question(self, number: int) -> str:
        text = self.questions[number % len(self.questions)]
        # A unique suffix defeats the response cache, to measure retrieval and generation.
        return f"{text} (bench {uuid.uuid4().hex[:6]})" if self.unique_questions else text


async def _open(target: Target, session_key: str):
    import websockets  # the benchmark's only client-side dependency (requirements/dev.in)

    parts = urlsplit(target.url)
    extra: dict[str, Any] = {"host": target.connect_host, "port": parts.port or (443 if parts.scheme == "wss" else 80)}
    return await websockets.connect(
        target.url,
        origin=target.origin(),  # type: ignore[arg-type]
        additional_headers={"Cookie": f"sessionid={session_key}"},
        open_timeout=10,
        **(extra if target.connect_host else {}),
    )


async def _ask_once(socket, question: str, result: BenchResult, conversation_id: int | None = None) -> int | None:
    """One question (a follow-up in `conversation_id` when given); returns the answer's conversation."""
    started = time.perf_counter()
    message: dict[str, Any] = {"type": "ask", "question": question}
    if conversation_id is not None:
        message["conversation_id"] = conversation_id
    await socket.send(json.dumps(message))
    first_token: float | None = None
    outcome_ok = False
    while True:
        frame = json.loads(await socket.recv())
        kind = frame.get("type")
        if kind == "ping":
            await socket.send(json.dumps({"type": "pong"}))
        elif kind == "token" and first_token is None:
            first_token = time.perf_counter()
        elif kind == "done":
            conversation_id = frame.get("conversation_id")
            outcome_ok = frame.get("outcome") in {"answered", "refused"}
            if not outcome_ok:
                result.errors[f"outcome:{frame.get('outcome')}"] += 1
        elif kind == "error":
            result.errors[frame.get("code", "unknown")] += 1
        elif kind == "end":
            break
    if outcome_ok:
        result.completed += 1
        result.answer_ms.append((time.perf_counter() - started) * 1000)
        if first_token is not None:
            result.ttft_ms.append((first_token - started) * 1000)
    else:
        result.failed += 1
    return conversation_id


async def _client(target: Target, session_keys: list[str], deadline: float, offset: int, result: BenchResult) -> None:
    """One stream at a time, its questions taken in turn by the client's users (one socket each)."""
    asked = offset
    conversations: list[int | None] = [None] * len(session_keys)
    try:
        async with contextlib.AsyncExitStack() as stack:
            sockets = [await stack.enter_async_context(await _open(target, key)) for key in session_keys]
            # Each socket is one conversation: every question after its first is a follow-up. Every
            # user asks at least once, however slow the first answers are (a short run on a busy
            # machine once ended before a client's second user had a turn).
            while time.monotonic() < deadline or asked - offset < len(sockets):
                turn = asked % len(sockets)
                question = target.question(asked)
                conversations[turn] = await _ask_once(sockets[turn], question, result, conversations[turn])
                asked += 1
    except Exception as error:  # noqa: BLE001 - a refused, dropped or broken socket counts as a failure
        result.failed += 1
        result.errors[type(error).__name__] += 1


async def _cancel_probe(target: Target, session_key: str, result: BenchResult) -> None:
    result.cancel_probes += 1
    async with await _open(target, session_key) as socket:
        await socket.send(json.dumps({"type": "ask", "question": target.question(0)}))
        while True:
            frame = json.loads(await socket.recv())
            if frame.get("type") == "started":
                await socket.send(json.dumps({"type": "cancel"}))
            elif frame.get("type") == "cancelled":
                if frame.get("released_ms") is None:
                    result.finished_before_cancel += 1
                else:
                    result.release_ms.append(frame["released_ms"])
                return


async def bench_run(*, target: Target, concurrency: int, seconds: float, cancel_probes: int) -> BenchResult:
    """`target.session_keys` are dealt out to the `concurrency` clients in equal shares."""
    result = BenchResult()
    deadline = time.monotonic() + seconds
    keys = target.session_keys
    share = max(1, len(keys) // concurrency)
    shares = [[keys[(n * share + k) % len(keys)] for k in range(share)] for n in range(concurrency)]
    await asyncio.gather(*(_client(target, shares[n], deadline, n, result) for n in range(concurrency)))
    for number in range(cancel_probes):
        await _cancel_probe(target, keys[number % len(keys)], result)
    return result
