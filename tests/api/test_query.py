"""The data plane: ask (JSON, SSE, agent trace), history and feedback, on a committed corpus."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.answers.models import QueryLog
from apps.api.apis.query import AgentAnswerOutput, AnswerOutput, CitationOutput, RelatedOutput, SourceOutput
from apps.documents.models import Document
from apps.documents.services import document_access_grant, document_access_revoke
from apps.feedback.models import Feedback
from apps.tenants.context import in_tenant

from .conftest import ALPHA_HOST, SchemaKeepingClient

pytestmark = pytest.mark.integration

REFUND_QUESTION = "What is the refund policy?"
FALCON_QUESTION = "What is the Falcon refund exception for platinum customers?"


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


def test_a_near_miss_is_refused_with_the_documents_to_look_in(ask, settings):
    settings.ANSWER_EVIDENCE_MIN_CONFIDENCE = 0.999  # the refund question's evidence becomes borderline
    body = ask(question=REFUND_QUESTION).json()

    assert (body["outcome"], body["citations"]) == ("refused", [])
    assert body["related"][0]["title"] == "Customer Refund Policy"
    assert set(body["related"][0]) == set(RelatedOutput().fields)


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
