"""`/ws/ask/` on the real Redis channel layer: stream order, bad input, limits, cancellation, errors.

Answers come from the real pipeline: the extractive provider, or Claude played by the fake
Anthropic server (a real HTTP server streaming server-sent events) where a test needs a slow,
long or failing model.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.test import override_settings
from django_tenants.utils import get_public_schema_name, schema_context

from apps.answers.models import QueryLog
from apps.core.stream_slots import StreamSlots
from apps.tenants.models import Tenant
from tests.support.fake_anthropic import SERVER_ERROR

from .streams import claude, frames_until, kinds, open_socket, scripted_answer

pytestmark = [pytest.mark.integration, pytest.mark.asyncio, pytest.mark.usefixtures("committed_db", "handbook")]


@database_sync_to_async
def query_logs(site, member) -> list[QueryLog]:
    with schema_context(site.schema):
        return list(QueryLog.objects.filter(user=member.user).order_by("pk"))


async def slots_in_use(site, member) -> int:
    slots = StreamSlots.from_settings()
    try:
        return await slots.in_use(tenant=site.schema, user_id=member.user.pk)
    finally:
        await slots.close()


async def eventually(predicate, *, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.1)


async def test_the_answer_streams_in_order_and_is_logged(site, member):
    socket = await open_socket(site, member)
    await socket.send_json_to({"type": "ask", "question": "What is the refund policy?"})
    frames = await frames_until(socket, "end")
    await socket.disconnect()

    assert kinds(frames)[0] == "started"
    assert kinds(frames)[-2:] == ["done", "end"]
    tokens = [frame["text"] for frame in frames if frame["type"] == "token"]
    done = frames[-2]
    assert tokens
    assert done["outcome"] == "answered"
    assert "".join(tokens) == done["answer"]  # the streamed text is the answer
    assert "30 days" in done["answer"]
    # Each citation arrives before the first token that uses its number, and links to its passage.
    for citation in (frame for frame in frames if frame["type"] == "citation"):
        first_use = next(
            i
            for i, frame in enumerate(frames)
            if frame["type"] == "token" and f"[{citation['number']}]" in frame["text"]
        )
        assert frames.index(citation) < first_use
        assert (
            citation["url"]
            == f"/documents/{citation['document_id']}/?chunk={citation['chunk_id']}#chunk-{citation['chunk_id']}"
        )
    assert done["citations"]
    assert done["sources"]
    assert all(source["url"] for source in done["sources"])
    assert done["feedback_url"] == f"/history/{done['query_id']}/feedback/"
    logged = await query_logs(site, member)
    assert [(row.pk, row.channel, row.outcome) for row in logged] == [(done["query_id"], "portal", "answered")]
    assert await slots_in_use(site, member) == 0


async def test_bad_frames_get_error_frames_and_the_socket_stays_usable(site, member):
    socket = await open_socket(site, member)
    with override_settings(ANSWER_MAX_QUESTION_CHARS=20):
        for raw, code in [
            ("not json", "invalid_message"),
            ('{"question": ' + "[" * 5000 + "]" * 5000 + "}", "invalid_message"),  # nested too deeply
            ("[1, 2]", "invalid_message"),
            ('{"type": "shout"}', "invalid_message"),
            ('{"type": "ask", "question": "   "}', "invalid_question"),
            ('{"type": "ask", "question": 42}', "invalid_question"),
            ('{"type": "ask", "question": "' + "x" * 21 + '"}', "question_too_long"),
        ]:
            await socket.send_to(text_data=raw)
            frame = await socket.receive_json_from(timeout=10)
            assert (frame["type"], frame["code"]) == ("error", code), raw
            assert frame["message"]
    await socket.send_json_to({"type": "cancel"})  # nothing running: nothing released
    assert await socket.receive_json_from(timeout=10) == {"type": "cancelled", "released_ms": None}
    await socket.disconnect()


async def test_error_messages_follow_the_pages_language(site, member):
    socket = await open_socket(site, member, language="de-DE,de;q=0.9")
    await socket.send_json_to({"type": "ask", "question": ""})
    frame = await socket.receive_json_from(timeout=10)
    assert frame["message"] == "Bitte geben Sie eine Frage ein."
    await socket.disconnect()


@pytest.mark.parametrize(
    ("limits", "holder", "code"),
    [
        ({"PORTAL_STREAMS_PER_USER": 1}, "same user", "too_many_streams"),
        ({"PORTAL_STREAMS_PER_TENANT": 1}, "another user", "tenant_busy"),
    ],
)
async def test_stream_caps_hold_across_workers(site, member, limits, holder, code):
    """A slot held elsewhere (another socket, another daphne worker) counts against the caps."""
    with override_settings(**limits):
        elsewhere = StreamSlots.from_settings()
        user_id = member.user.pk if holder == "same user" else member.user.pk + 100_000
        assert (await elsewhere.acquire(tenant=site.schema, user_id=user_id, stream_id="elsewhere")).name == "GRANTED"
        socket = await open_socket(site, member)
        await socket.send_json_to({"type": "ask", "question": "How many days of annual leave do I get?"})
        frames = await frames_until(socket, "end")
        assert kinds(frames) == ["error", "end"]
        assert frames[0]["code"] == code

        await elsewhere.release(tenant=site.schema, user_id=user_id, stream_id="elsewhere")
        await elsewhere.close()
        await socket.send_json_to({"type": "ask", "question": "How many days of annual leave do I get?"})
        frames = await frames_until(socket, "end")
        assert "done" in kinds(frames)
        await socket.disconnect()


async def test_disconnecting_cancels_generation_and_closes_the_upstream_request(site, member):
    with claude() as fake:
        sent = scripted_answer(fake, token_delay_seconds=0.3)
        socket = await open_socket(site, member)
        await socket.send_json_to({"type": "ask", "question": "Which refunds are possible?"})
        frames = await frames_until(socket, "token")
        await socket.disconnect(timeout=10)

        upstream = await asyncio.to_thread(fake.wait_for_stream_end, timeout=60)
        assert upstream.disconnected
        assert not upstream.completed
        assert upstream.tokens_sent < sent
    assert kinds(frames)[-1] == "token"
    await eventually(lambda: slots_in_use_is_zero(site, member))
    logged = await query_logs(site, member)
    assert [row.outcome for row in logged] == ["cancelled"]


async def slots_in_use_is_zero(site, member) -> bool:
    return await slots_in_use(site, member) == 0


async def test_the_stop_button_cancels_and_reports_when_the_provider_let_go(site, member):
    with claude() as fake:
        scripted_answer(fake, token_delay_seconds=0.3)
        socket = await open_socket(site, member)
        await socket.send_json_to({"type": "ask", "question": "Which refunds are possible?"})
        await frames_until(socket, "token")
        await socket.send_json_to({"type": "ask", "question": "And chargebacks?"})  # one stream per socket
        busy = (await frames_until(socket, "error"))[-1]
        await socket.send_json_to({"type": "cancel"})
        frames = await frames_until(socket, "cancelled")
        upstream = await asyncio.to_thread(fake.wait_for_stream_end, timeout=60)
        await socket.disconnect()
    assert (busy["type"], busy["code"]) == ("error", "stream_busy")
    assert kinds(frames)[-2:] == ["end", "cancelled"]
    assert "done" not in kinds(frames)
    assert frames[-1]["released_ms"] is not None
    assert frames[-1]["released_ms"] >= 0
    assert upstream.disconnected
    assert not upstream.completed


async def test_a_stream_past_its_token_limit_is_cut_off_upstream_too(site, member):
    with claude(PORTAL_STREAM_MAX_TOKENS=25) as fake:
        scripted_answer(fake, token_delay_seconds=0.2)
        socket = await open_socket(site, member)
        await socket.send_json_to({"type": "ask", "question": "Which refunds are possible?"})
        frames = await frames_until(socket, "end")
        upstream = await asyncio.to_thread(fake.wait_for_stream_end, timeout=60)
        await socket.disconnect()
    assert kinds(frames)[-2:] == ["error", "end"]
    assert frames[-2]["code"] == "token_limit"
    assert sum(frame["type"] == "token" for frame in frames) == 1  # one ~22-token sentence fits in 25
    assert upstream.disconnected


async def test_a_stream_past_its_time_limit_is_stopped(site, member):
    with claude(PORTAL_STREAM_MAX_SECONDS=1.0) as fake:
        scripted_answer(fake, token_delay_seconds=0.4)
        socket = await open_socket(site, member)
        await socket.send_json_to({"type": "ask", "question": "Which refunds are possible?"})
        frames = await frames_until(socket, "end")
        upstream = await asyncio.to_thread(fake.wait_for_stream_end, timeout=60)
        await socket.disconnect()
    assert kinds(frames)[-2:] == ["error", "end"]
    assert frames[-2]["code"] == "stream_timeout"
    assert upstream.disconnected


async def test_a_failing_provider_ends_with_an_error_frame(site, member):
    with claude() as fake:
        fake.reply_error(SERVER_ERROR)
        socket = await open_socket(site, member)
        await socket.send_json_to({"type": "ask", "question": "Which refunds are possible?"})
        frames = await frames_until(socket, "end")
        await socket.disconnect()
    errors = [frame for frame in frames if frame["type"] == "error"]
    assert [frame["code"] for frame in errors] == ["failed"]
    assert errors[0]["message"]
    assert next(frame for frame in frames if frame["type"] == "done")["outcome"] == "failed"


async def test_a_tenant_switched_off_mid_connection_gets_no_answer(site, member):
    @database_sync_to_async
    def set_active(active: bool) -> None:
        with schema_context(get_public_schema_name()):
            Tenant.objects.filter(pk=site.tenant.pk).update(is_active=active)

    socket = await open_socket(site, member)
    await set_active(False)
    try:
        await socket.send_json_to({"type": "ask", "question": "What is the refund policy?"})
        frame = await socket.receive_json_from(timeout=10)
        closed = await socket.receive_output(timeout=10)
    finally:
        await set_active(True)
    await socket.disconnect()
    # Nobody may act in a switched-off tenant: the socket ends before anything is answered.
    assert (frame["type"], frame["code"]) == ("error", "unauthenticated")
    assert closed == {"type": "websocket.close", "code": 4401}


async def test_a_silent_client_is_disconnected(site, member):
    with override_settings(PORTAL_WS_HEARTBEAT_SECONDS=0.1, PORTAL_WS_HEARTBEAT_TIMEOUT_SECONDS=0.35):
        socket = await open_socket(site, member)
        frames = [await socket.receive_json_from(timeout=10)]
        while frames[-1]["type"] == "ping":  # never answered
            frames.append(await socket.receive_json_from(timeout=10))
        closed = await socket.receive_output(timeout=10)
        await socket.disconnect()
    assert kinds(frames)[:2] == ["ping", "ping"]
    assert frames[-1]["code"] == "heartbeat_timeout"
    assert closed == {"type": "websocket.close", "code": 4408}


async def test_an_idle_socket_is_closed_even_while_it_answers_pings(site, member):
    with override_settings(PORTAL_WS_HEARTBEAT_SECONDS=0.1, PORTAL_WS_IDLE_TIMEOUT_SECONDS=0.4):
        socket = await open_socket(site, member)
        while (frame := await socket.receive_json_from(timeout=10))["type"] == "ping":
            await socket.send_json_to({"type": "pong"})
        closed = await socket.receive_output(timeout=10)
        await socket.disconnect()
    assert frame["code"] == "idle_timeout"
    assert closed == {"type": "websocket.close", "code": 4000}
    assert settings.PORTAL_WS_IDLE_TIMEOUT_SECONDS > 0.4  # restored


async def test_socket_questions_share_the_users_question_budget_with_the_form(site, member):
    """Attack pass, hole 8: 150 questions in 10 s on one socket went around the API's query quota."""
    tight = {
        **settings.API_RATE_LIMITS,
        "query": {**settings.API_RATE_LIMITS["query"], "principal": {"capacity": 2, "refill_per_second": 0.001}},
    }
    socket = await open_socket(site, member)
    try:
        with override_settings(API_RATE_LIMITS=tight):
            await socket.send_json_to({"type": "ask", "question": "What is the refund policy?"})
            assert "done" in kinds(await frames_until(socket, "end"))
            form = await database_sync_to_async(_form_question)(site, member)
            await socket.send_json_to({"type": "ask", "question": "What is the refund policy?"})
            refused = await frames_until(socket, "end")
    finally:
        await socket.disconnect()

    assert form == 200
    # Refused before it started: the error, then `end` (the page stops waiting), and no answer.
    assert kinds(refused) == ["error", "end"]
    assert refused[0]["code"] == "rate_limited"
    assert "too quickly" in refused[0]["message"]


def _form_question(site, member) -> int:
    from django.test import Client

    client = Client(HTTP_HOST=site.host)
    client.cookies["sessionid"] = member.session_key
    return client.post("/ask/", {"question": "What is the refund policy?"}).status_code
