"""The data plane: ask (JSON, SSE, agent trace), history and feedback, on a committed corpus."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from apps.answers.models import QueryLog
from apps.api.apis.query import AgentAnswerOutput, AnswerOutput, CitationOutput, SourceOutput
from apps.documents.models import Document
from apps.documents.services import document_access_grant, document_access_revoke
from apps.feedback.models import Feedback
from apps.tenants.context import in_tenant
from config.asgi import OneHopASGIHandler
from tests.support.fake_anthropic import FakeAnthropicServer, claude_answers

from .conftest import ALPHA_HOST, SchemaKeepingClient

pytestmark = pytest.mark.integration

REFUND_QUESTION = "What is the refund policy?"
FALCON_QUESTION = "What is the Falcon refund exception for platinum customers?"
# Each sentence cites every passage: which number the refund rules get depends on retrieval order.
GROUNDED = (
    "Customers may request a full refund within 30 days of the original purchase date [1][2][3][4][5]. "
    "Refunds are issued to the original payment method only [1][2][3][4][5]. "
)


@pytest.fixture
def ask(answer_corpus, committed_db):
    """POST a question as alice (or `key=`) on the corpus tenant's host."""
    client = SchemaKeepingClient()

    def post(path: str = "/api/v1/query", *, key: str | None = None, **body):
        return client.post(
            path, body, format="json", HTTP_HOST=answer_corpus.host, HTTP_X_API_KEY=key or answer_corpus.alice_key
        )

    return post


def parse_sse(raw: bytes) -> list[tuple[str, dict]]:
    events = []
    for block in raw.decode().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if line and not line.startswith(":"))
        if lines:
            events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_an_answer_comes_with_citations_sources_ids_and_legs(ask, answer_corpus):
    response = ask(question=REFUND_QUESTION)

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["outcome"] == "answered"
    assert "30 days" in body["answer"]
    assert body["citations"]
    assert body["citations"][0]["title"]
    assert body["sources"][0]["document_id"] == body["citations"][0]["document_id"]
    assert body["query_id"] > 0
    assert body["trace_id"]
    assert set(body["legs"]) == {"dense", "keyword", "graph"}
    assert "trace" not in body
    with in_tenant(answer_corpus.tenant.schema_name):
        row = QueryLog.objects.get(pk=body["query_id"])
    assert (row.user_id, row.channel) == (answer_corpus.alice.pk, "api")


def test_answers_carry_exactly_the_documented_keys(ask):
    """The body is projected onto the serializer's keys: nothing internal leaks, nothing is missing."""
    plain = ask(question=REFUND_QUESTION).json()
    agent = ask("/api/v1/query/agent", question=REFUND_QUESTION).json()

    assert set(plain) == set(AnswerOutput().fields)
    assert set(agent) == set(AgentAnswerOutput().fields) == set(plain) | {"trace"}
    assert set(plain["citations"][0]) == set(CitationOutput().fields)
    assert set(plain["sources"][0]) == set(SourceOutput().fields)


def test_one_request_reads_the_tenant_settings_once(ask):
    """Rate limiter, PII policy, model router and response cache all ask; the request memo answers."""
    with CaptureQueriesContext(connection) as queries:
        response = ask(question="How long do refunds take to arrive?")
    assert response.status_code == 200, response.json()
    reads = [query["sql"] for query in queries.captured_queries if 'FROM "tenants_tenantsettings"' in query["sql"]]
    assert len(reads) == 1


def test_a_document_the_caller_may_not_see_is_never_cited(ask, answer_corpus):
    alice = ask(question=FALCON_QUESTION).json()
    carol = ask(question=FALCON_QUESTION, key=answer_corpus.carol_key).json()

    assert answer_corpus.falcon_memo_id in [c["document_id"] for c in alice["citations"]]
    assert answer_corpus.falcon_memo_id not in [c["document_id"] for c in carol["citations"]]
    assert "120 days" not in carol["answer"]


def test_leaving_a_group_takes_its_documents_away_from_the_next_request_on(ask, answer_corpus):
    """Users and their groups are served from the process cache; a membership change counts at once."""
    schema, carol = answer_corpus.tenant.schema_name, answer_corpus.carol
    with in_tenant(schema):
        memo = Document.objects.get(pk=answer_corpus.falcon_memo_id)
        group = Group.objects.create(name="falcon readers")
        document_access_grant(document=memo, principal=group)
        carol.groups.add(group)
    try:
        as_member = ask(question=FALCON_QUESTION, key=answer_corpus.carol_key).json()
        with in_tenant(schema):
            carol.groups.remove(group)
        after_leaving = ask(question=FALCON_QUESTION, key=answer_corpus.carol_key).json()
    finally:
        with in_tenant(schema):
            document_access_revoke(document=memo, principal=group, permissions=("view_document",))
            group.delete()

    assert memo.pk in [c["document_id"] for c in as_member["citations"]]
    assert memo.pk not in [c["document_id"] for c in after_leaving["citations"]]
    assert "120 days" not in after_leaving["answer"]


def test_legs_and_k_are_passed_through(ask):
    body = ask(question=REFUND_QUESTION, legs=["keyword"], k=3).json()
    assert body["legs"] == {"keyword": "ok"}
    assert len(body["citations"]) <= 3


def test_the_agent_route_returns_the_full_execution_trace(ask):
    body = ask("/api/v1/query/agent", question=REFUND_QUESTION).json()

    steps = [step["name"] for step in body["trace"]["steps"]]
    assert {"planner", "retriever", "synthesizer", "verifier"} <= set(steps)
    assert body["trace"]["trace_id"] == body["trace_id"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "question"),
        ({"question": ""}, "question"),
        ({"question": "x" * 100_000}, "question"),
        ({"question": "ok?", "legs": ["telepathy"]}, "legs"),
        ({"question": "ok?", "legs": []}, "legs"),
        ({"question": "ok?", "k": 0}, "k"),
        ({"question": ["not", "text"]}, "question"),
    ],
)
def test_bad_questions_are_400_and_log_nothing(ask, answer_corpus, body, field):
    with in_tenant(answer_corpus.tenant.schema_name):
        before = QueryLog.objects.count()
    for path in ("/api/v1/query", "/api/v1/query/stream", "/api/v1/query/agent"):
        response = ask(path, **body)
        assert response.status_code == 400, path
        assert field in response.json()["error"]["details"]
    with in_tenant(answer_corpus.tenant.schema_name):
        assert QueryLog.objects.count() == before


def test_query_routes_need_a_credential_and_the_query_scope(answer_corpus, committed_db, tenant_alpha):
    client = SchemaKeepingClient()
    for path in ("/api/v1/query", "/api/v1/query/stream", "/api/v1/query/agent", "/api/v1/feedback"):
        assert client.post(path, {"question": "hi"}, format="json", HTTP_HOST=answer_corpus.host).status_code == 401
        other_tenant = client.post(
            path, {"question": "hi"}, format="json", HTTP_HOST=ALPHA_HOST, HTTP_X_API_KEY=answer_corpus.alice_key
        )
        assert other_tenant.status_code == 403
    assert client.get("/api/v1/history", HTTP_HOST=answer_corpus.host).status_code == 401


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


def test_history_lists_only_the_callers_questions_newest_first_paged(ask, answer_corpus):
    first = ask(question=REFUND_QUESTION).json()["query_id"]
    second = ask(question="How are refunds paid out?").json()["query_id"]
    ask(question=REFUND_QUESTION, key=answer_corpus.carol_key)
    client = SchemaKeepingClient()

    page = client.get(
        "/api/v1/history", {"page_size": 2}, HTTP_HOST=answer_corpus.host, HTTP_X_API_KEY=answer_corpus.alice_key
    ).json()

    assert [item["query_id"] for item in page["results"]] == [second, first]
    assert page["results"][0]["query"] == "How are refunds paid out?"
    with in_tenant(answer_corpus.tenant.schema_name):
        assert page["count"] == QueryLog.objects.filter(user=answer_corpus.alice).count()


def test_feedback_attaches_to_the_callers_own_answer_only(ask, answer_corpus):
    query_id = ask(question=REFUND_QUESTION).json()["query_id"]

    given = ask("/api/v1/feedback", query_id=query_id, rating=-1, comment="Missing the 90-day rule.")
    stolen = ask("/api/v1/feedback", key=answer_corpus.carol_key, query_id=query_id, rating=1)
    missing = ask("/api/v1/feedback", query_id=10**9, rating=1)
    invalid = ask("/api/v1/feedback", query_id=query_id, rating=5)

    assert given.status_code == 201, given.json()
    assert given.json()["query_id"] == query_id
    assert given.json()["rating"] == -1
    assert stolen.status_code == missing.status_code == 404
    assert invalid.status_code == 400
    assert "rating" in invalid.json()["error"]["details"]
    with in_tenant(answer_corpus.tenant.schema_name):
        feedback = Feedback.objects.get(pk=given.json()["feedback_id"])
    assert (feedback.query_id, feedback.user_id, feedback.comment) == (
        query_id,
        answer_corpus.alice.pk,
        "Missing the 90-day rule.",
    )


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
