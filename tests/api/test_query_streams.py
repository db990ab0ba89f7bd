"""Answer streams over the API: SSE events, cancellation under ASGI, and the stream limits."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import override_settings

from apps.answers.models import QueryLog
from apps.tenants.context import in_tenant
from config.asgi import OneHopASGIHandler
from tests.support.fake_anthropic import FakeAnthropicServer, claude_answers

from .conftest import parse_sse

pytestmark = pytest.mark.integration

REFUND_QUESTION = "What is the refund policy?"
# Each sentence cites every passage: which number the refund rules get depends on retrieval order.
GROUNDED = (
    "Customers may request a full refund within 30 days of the original purchase date [1][2][3][4][5]. "
    "Refunds are issued to the original payment method only [1][2][3][4][5]. "
)


def test_the_stream_sends_the_portal_events_as_sse(ask):
    response = ask("/api/v1/query/stream", question=REFUND_QUESTION)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/event-stream"
    assert response["Cache-Control"] == "no-cache"
    assert response["RateLimit-Limit"]
    events = parse_sse(b"".join(response.streaming_content))
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "citation"
    assert kinds[-2:] == ["trace", "done"]
    done = events[-1][1]
    assert done["outcome"] == "answered"
    assert "".join(data["text"] for kind, data in events if kind == "token") == done["answer"]


def test_closing_the_stream_response_cancels_the_answer(ask, answer_corpus):
    response = ask("/api/v1/query/stream", question=REFUND_QUESTION)
    stream = iter(response.streaming_content)
    next(stream), next(stream)  # the opening comment and the first event
    response.close()

    with in_tenant(answer_corpus.tenant.schema_name):
        row = QueryLog.objects.filter(user=answer_corpus.alice).order_by("-id").first()
    assert (row.outcome, row.reason) == ("cancelled", "client_went_away")


def asgi_scope(*, host: str, path: str, key: str, payload: bytes) -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", host.encode()),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
            (b"x-api-key", key.encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }


async def asgi_post(*, host: str, path: str, key: str, body: dict, on_message: Callable[[dict], bool]) -> None:
    """Drive Django's real ASGI handler (what daphne runs, its chain synchronous on the request's
    thread) with one POST; the client hangs up once `on_message` returns True for a sent message."""
    payload = json.dumps(body).encode()
    hang_up = asyncio.Event()
    delivered = False

    async def receive() -> dict:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": payload, "more_body": False}
        await hang_up.wait()
        return {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        if on_message(message):
            hang_up.set()

    scope = asgi_scope(host=host, path=path, key=key, payload=payload)
    await asyncio.wait_for(OneHopASGIHandler()(scope, receive, send), timeout=30)


def asgi_post_until_first_event(*, host: str, path: str, key: str, body: dict) -> list[dict]:
    """POST and hang up after the first SSE event."""
    sent: list[dict] = []

    def keep(message: dict) -> bool:
        sent.append(message)
        return b"event: " in message.get("body", b"")

    asyncio.run(asgi_post(host=host, path=path, key=key, body=body, on_message=keep))
    return sent


async def asgi_post_to_the_end(*, name: str, host: str, key: str, body: dict, log: list[tuple[str, bytes]]) -> None:
    """POST /query/stream and read every body chunk into `log` as (name, chunk), to the end."""

    def keep(message: dict) -> bool:
        log.append((name, message.get("body", b"")))
        return message["type"] == "http.response.body" and not message.get("more_body")

    await asgi_post(host=host, path="/api/v1/query/stream", key=key, body=body, on_message=keep)


def test_a_stream_waiting_for_its_provider_does_not_hold_up_other_streams_under_asgi(answer_corpus, committed_db):
    """Both SSE streams of a process share one event loop: the slow one must not block the other."""
    log: list[tuple[str, bytes]] = []

    async def both(fake: FakeAnthropicServer) -> None:
        slow = asyncio.create_task(
            asgi_post_to_the_end(
                name="slow",
                host=answer_corpus.host,
                key=answer_corpus.alice_key,
                body={"question": REFUND_QUESTION},
                log=log,
            )
        )
        while not fake.requests:  # the slow stream has reached its provider call
            await asyncio.sleep(0.01)
        await asgi_post_to_the_end(
            name="fast",
            host=answer_corpus.host,
            key=answer_corpus.carol_key,
            body={"question": "How are refunds paid out?"},
            log=log,
        )
        await slow

    with FakeAnthropicServer() as fake, claude_answers(fake):
        fake.reply_stream(GROUNDED, delay_seconds=3)  # the first request: no byte for three seconds
        fake.reply_stream(GROUNDED)
        asyncio.run(both(fake))

    fast_done = next(i for i, (name, chunk) in enumerate(log) if name == "fast" and b"event: done" in chunk)
    slow_first_event = next(i for i, (name, chunk) in enumerate(log) if name == "slow" and b"event: " in chunk)
    assert fast_done < slow_first_event
    assert any(name == "slow" and b"event: done" in chunk for name, chunk in log)


def test_a_client_disconnect_under_asgi_stops_generation_upstream(answer_corpus, committed_db):
    with FakeAnthropicServer() as fake, claude_answers(fake):
        fake.reply_stream(GROUNDED * 20, token_delay_seconds=0.05)
        sent = asgi_post_until_first_event(
            host=answer_corpus.host,
            path="/api/v1/query/stream",
            key=answer_corpus.carol_key,
            body={"question": REFUND_QUESTION},
        )
        upstream = fake.wait_for_stream_end(timeout=10)

    assert sent[0]["status"] == 200
    assert not any(message.get("body", b"").startswith(b"event: done") for message in sent)
    assert upstream.disconnected
    assert not upstream.completed
    with in_tenant(answer_corpus.tenant.schema_name):
        row = QueryLog.objects.filter(user=answer_corpus.carol).order_by("-id").first()
    assert (row.outcome, row.reason) == ("cancelled", "client_went_away")


def open_stream(ask, **kwargs):
    """A stream that has started (its first event read) and is left open."""
    response = ask("/api/v1/query/stream", question=REFUND_QUESTION, **kwargs)
    assert response.status_code == 200
    stream = iter(response.streaming_content)
    next(stream), next(stream)
    return response


@override_settings(PORTAL_STREAMS_PER_USER=1)
def test_a_user_at_the_stream_limit_is_refused_until_a_stream_ends(ask):
    first = open_stream(ask)
    refused = ask("/api/v1/query/stream", question=REFUND_QUESTION)
    first.close()
    after_close = open_stream(ask)
    after_close.close()

    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "too_many_streams"


@override_settings(PORTAL_STREAMS_PER_USER=2)
def test_a_stream_read_to_the_end_gives_its_slot_back(ask):
    for _ in range(3):  # more than the limit, one after the other
        response = ask("/api/v1/query/stream", question=REFUND_QUESTION)
        assert response.status_code == 200
        assert parse_sse(b"".join(response.streaming_content))[-1][0] == "done"


@override_settings(PORTAL_STREAMS_PER_TENANT=1)
def test_a_tenant_at_its_stream_limit_refuses_other_users(ask, answer_corpus):
    alices = open_stream(ask)
    carols = ask("/api/v1/query/stream", key=answer_corpus.carol_key, question=REFUND_QUESTION)
    alices.close()

    assert carols.status_code == 429
    assert carols.json()["error"]["code"] == "tenant_busy"


@override_settings(PORTAL_STREAM_SLOTS_REDIS_URL="redis://127.0.0.1:9/0", REDIS_SOCKET_TIMEOUT=0.5)
def test_streams_fail_closed_when_slots_cannot_be_counted(ask):
    response = ask("/api/v1/query/stream", question=REFUND_QUESTION)

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "slots_unavailable"
