"""Conversations in the portal: the Ask page continues a thread (with and without JavaScript's
socket), History lists threads, a thread page shows its turns and can be removed by its owner."""

from __future__ import annotations

import re

import pytest
from django_tenants.utils import schema_context

from apps.answers.models import Conversation
from apps.documents.models import Document
from apps.documents.services import document_access_revoke
from apps.ingestion.services import UploadedFile, documents_upload

from .conftest import member_of
from .streams import frames_until, open_socket
from .test_answer_pages import client_for

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("committed_db", "handbook")]

VACATION = "How many vacation days do I get per year?"


def conversation_on(page: str) -> int:
    match = re.search(r'name="conversation_id" value="(\d+)"', page)
    assert match, "the form carries the conversation for a follow-up"
    return int(match.group(1))


def test_without_javascript_a_follow_up_continues_the_thread_on_the_page(site):
    me = member_of(site)
    first = client_for(site, me).post("/ask/", {"question": VACATION}).content.decode()
    conversation = conversation_on(first)
    assert "28 days" in first

    follow_up = client_for(site, me).post(
        "/ask/", {"question": "And for part-timers?", "conversation_id": conversation}
    )
    page = follow_up.content.decode()

    assert follow_up.status_code == 200
    assert conversation_on(page) == conversation
    thread = page.split('id="thread"')[1].split("</section>")[0]
    assert VACATION in thread  # the earlier turn, above the form
    assert "28 days" in thread
    understood = page.split('id="answer-understood-text">')[1].split("<")[0]
    assert understood == "How many vacation days do I get per year, for part-timers?"
    assert "pro rata" in page.split('id="answer-text"')[1]


def test_history_lists_threads_and_a_thread_page_shows_its_turns(site):
    me, someone = member_of(site), member_of(site)
    conversation = conversation_on(client_for(site, me).post("/ask/", {"question": VACATION}).content.decode())
    client_for(site, me).post("/ask/", {"question": "Can I carry them over?", "conversation_id": conversation})
    client_for(site, someone).post("/ask/", {"question": "What is the refund policy?"})

    listing = client_for(site, me).get("/history/").content.decode()
    thread = client_for(site, me).get(f"/history/conversations/{conversation}/").content.decode()

    assert f'href="/history/conversations/{conversation}/"' in listing
    assert "What is the refund policy?" not in listing
    assert "Can I carry them over?" in thread
    assert "Understood as: Can I carry the vacation days over?" in thread
    assert f'href="/ask/?conversation={conversation}"' in thread
    continued = client_for(site, me).get(f"/ask/?conversation={conversation}").content.decode()
    assert conversation_on(continued) == conversation
    assert VACATION in continued


def test_another_users_thread_is_a_404_on_every_page(site):
    me, someone = member_of(site), member_of(site)
    theirs = conversation_on(client_for(site, someone).post("/ask/", {"question": VACATION}).content.decode())

    assert client_for(site, me).get(f"/history/conversations/{theirs}/").status_code == 404
    assert client_for(site, me).post(f"/history/conversations/{theirs}/").status_code == 404
    assert client_for(site, me).get(f"/ask/?conversation={theirs}").status_code == 404
    assert client_for(site, me).get("/ask/?conversation=abc").status_code == 404
    page = client_for(site, me).post("/ask/", {"question": "And for part-timers?", "conversation_id": theirs})
    assert "not in your history any more" in page.content.decode()
    with schema_context(site.schema):
        assert Conversation.objects.get(pk=theirs).turns.count() == 1


def test_removing_a_thread_takes_it_out_of_history(site):
    me = member_of(site)
    conversation = conversation_on(client_for(site, me).post("/ask/", {"question": VACATION}).content.decode())

    removed = client_for(site, me).post(f"/history/conversations/{conversation}/")

    assert removed["Location"] == "/history/"
    assert f"/history/conversations/{conversation}/" not in client_for(site, me).get("/history/").content.decode()
    assert client_for(site, me).get(f"/history/conversations/{conversation}/").status_code == 404


def test_a_thread_withholds_an_earlier_answer_whose_source_the_user_can_no_longer_open(site):
    me = member_of(site)
    with schema_context(site.schema):
        upload = UploadedFile(
            filename="osprey-bonus.md", data=b"# Osprey bonus\n\nThe Osprey project bonus is paid out on 9 May."
        )
        job = documents_upload(uploads=[upload], uploaded_by=me.user, visible_to_tenant=False)[0]
        document = Document.objects.get(pk=job.document_id)
    page = client_for(site, me).post("/ask/", {"question": "When is the Osprey project bonus paid out?"})
    conversation = conversation_on(page.content.decode())
    with schema_context(site.schema):
        document_access_revoke(document=document, principal=me.user)

    thread = client_for(site, me).get(f"/ask/?conversation={conversation}").content.decode()

    assert "9 May" not in thread
    assert "can no longer open" in thread


@pytest.mark.asyncio
async def test_the_socket_takes_and_returns_the_conversation(site, member):
    socket = await open_socket(site, member)
    await socket.send_json_to({"type": "ask", "question": VACATION})
    first = (await frames_until(socket, "end"))[-2]
    await socket.send_json_to(
        {"type": "ask", "question": "And for part-timers?", "conversation_id": first["conversation_id"]}
    )
    follow_up = (await frames_until(socket, "end"))[-2]
    await socket.send_json_to({"type": "ask", "question": "And then?", "conversation_id": "1"})
    malformed = await frames_until(socket, "error")
    await socket.send_json_to({"type": "ask", "question": "And then?", "conversation_id": 2**40})
    unknown = await frames_until(socket, "end")
    await socket.disconnect()

    assert follow_up["type"] == "done"
    assert follow_up["conversation_id"] == first["conversation_id"]
    assert follow_up["standalone_question"] == "How many vacation days do I get per year, for part-timers?"
    assert "pro rata" in follow_up["answer"]
    assert malformed[-1]["code"] == "invalid_message"
    assert [frame["code"] for frame in unknown if frame["type"] == "error"] == ["no_such_conversation"]
