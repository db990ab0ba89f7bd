"""Conversations over the API: /query and /query/stream take and return a conversation_id, a
follow-up is rewritten from its thread, and threads are listed, read and removed by their owner only."""

from __future__ import annotations

import pytest

from apps.answers.models import QueryLog
from apps.tenants.context import in_tenant

from .conftest import SchemaKeepingClient, parse_sse

pytestmark = pytest.mark.integration

REFUND_QUESTION = "How long do customers have to ask for a refund?"


@pytest.fixture
def api(answer_corpus, committed_db):
    client = SchemaKeepingClient()

    def call(method: str, path: str, *, key: str | None = None, **body):
        headers = {"HTTP_HOST": answer_corpus.host, "HTTP_X_API_KEY": key or answer_corpus.alice_key}
        if method == "get":
            return client.get(path, body, **headers)
        return getattr(client, method)(path, body, format="json", **headers)

    return call


def test_a_follow_up_continues_the_conversation_its_id_names(api):
    first = api("post", "/api/v1/query", question=REFUND_QUESTION).json()
    follow_up = api(
        "post", "/api/v1/query", question="And for annual subscriptions?", conversation_id=first["conversation_id"]
    ).json()

    assert first["conversation_id"] == follow_up["conversation_id"]
    assert first["standalone_question"] == ""
    assert follow_up["standalone_question"] == f"{REFUND_QUESTION[:-1]}, for annual subscriptions?"
    assert follow_up["outcome"] == "answered"
    assert "annual" in follow_up["answer"].lower()


def test_the_stream_takes_and_returns_the_conversation(api):
    first = api("post", "/api/v1/query", question=REFUND_QUESTION).json()
    response = api(
        "post", "/api/v1/query/stream", question="What about damaged items?", conversation_id=first["conversation_id"]
    )
    done = next(data for event, data in parse_sse(b"".join(response.streaming_content)) if event == "done")

    assert done["conversation_id"] == first["conversation_id"]
    assert done["standalone_question"] == f"{REFUND_QUESTION[:-1]}, for damaged items?"


def test_a_thread_lists_its_turns_oldest_first(api):
    first = api("post", "/api/v1/query", question=REFUND_QUESTION).json()
    second = api(
        "post", "/api/v1/query", question="And for annual subscriptions?", conversation_id=first["conversation_id"]
    )

    listed = api("get", "/api/v1/conversations").json()
    thread = api("get", f"/api/v1/conversations/{first['conversation_id']}").json()

    assert listed["results"][0]["conversation_id"] == first["conversation_id"]  # the latest continued first
    assert listed["results"][0]["turns"] == 2
    assert thread["title"] == REFUND_QUESTION
    assert [turn["query_id"] for turn in thread["turn_list"]] == [first["query_id"], second.json()["query_id"]]
    assert thread["turn_list"][1]["standalone_query"] == second.json()["standalone_question"]
    assert thread["turn_list"][1]["conversation_id"] == first["conversation_id"]


def test_another_users_conversation_is_a_404_everywhere_and_nothing_runs(api, answer_corpus):
    mine = api("post", "/api/v1/query", question=REFUND_QUESTION).json()["conversation_id"]
    with in_tenant(answer_corpus.tenant.schema_name):
        before = QueryLog.objects.count()

    as_carol = {"key": answer_corpus.carol_key}
    assert (
        api("post", "/api/v1/query", question="And for annual plans?", conversation_id=mine, **as_carol).status_code
        == 404
    )
    assert (
        api("post", "/api/v1/query/stream", question="And then?", conversation_id=mine, **as_carol).status_code == 404
    )
    assert api("get", f"/api/v1/conversations/{mine}", **as_carol).status_code == 404
    assert api("delete", f"/api/v1/conversations/{mine}", **as_carol).status_code == 404
    assert mine not in [
        item["conversation_id"] for item in api("get", "/api/v1/conversations", **as_carol).json()["results"]
    ]
    with in_tenant(answer_corpus.tenant.schema_name):
        assert QueryLog.objects.count() == before


@pytest.mark.parametrize("conversation_id", [0, -1, "abc", 1.5, [1]])
def test_a_malformed_conversation_id_is_a_400(api, conversation_id):
    response = api("post", "/api/v1/query", question=REFUND_QUESTION, conversation_id=conversation_id)

    assert response.status_code == 400
    assert "conversation_id" in response.json()["error"]["details"]


def test_a_removed_conversation_is_gone_from_the_list_and_cannot_be_continued(api):
    conversation_id = api("post", "/api/v1/query", question=REFUND_QUESTION).json()["conversation_id"]

    assert api("delete", f"/api/v1/conversations/{conversation_id}").status_code == 204
    assert api("get", f"/api/v1/conversations/{conversation_id}").status_code == 404
    assert api("post", "/api/v1/query", question="And then?", conversation_id=conversation_id).status_code == 404
