"""Feedback becomes a golden set (BEIR layout + checks) and runs back through the real answer path.

Answering runs retrieval legs in threads with their own connections, so the corpus is committed in
its own tenant (dropped afterwards).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from apps.accounts.models import User
from apps.answers.models import QueryLog
from apps.answers.services import answer_question
from apps.documents.models import Document
from apps.feedback.models import Feedback
from apps.feedback.services import feedback_review, feedback_submit
from apps.ingestion.pipeline import ingestion_jobs_run
from apps.ingestion.services import UploadedFile, document_upload
from apps.tenants.context import in_tenant
from tests.support.committed import committed_tenant

pytestmark = pytest.mark.integration
QUESTION = "How many days do customers have to ask for a refund?"


@dataclass
class Asked:
    schema: str
    alice: User
    refund: Document
    query: QueryLog
    feedback: Feedback


def _ingest(title: str, text: str) -> Document:
    job = document_upload(
        upload=UploadedFile(filename=f"policies/{title}.md", data=f"# {title}\n\n{text}".encode()),
        uploaded_by=None,
        visible_to_tenant=True,
    )
    ingestion_jobs_run(job_ids=[str(job.pk)])
    return Document.objects.get(pk=job.document_id)


@pytest.fixture(scope="module")
def asked(django_db_setup, django_db_blocker) -> Iterator[Asked]:
    with django_db_blocker.unblock(), committed_tenant("gold") as tenant, in_tenant(tenant.schema_name):
        alice = User.objects.create_user(username="alice", password="x" * 16)
        refund = _ingest("Refund policy", "Customers may ask for a full refund within 30 days of purchase.")
        _ingest("Travel policy", "Employees book travel through the travel desk and keep their receipts.")
        result = answer_question(user=alice, question=QUESTION, channel="portal", use_cache=False)
        query = QueryLog.objects.get(pk=result.query_id)
        feedback = feedback_submit(user=alice, query_id=query.pk, rating=1, comment="exactly right")
        feedback_review(feedback=feedback, reviewer=alice, must_contain=["30 days"], must_not_contain=["no refunds"])
        yield Asked(tenant.schema_name, alice, refund, query, feedback)


def test_the_query_is_persisted_with_what_compliance_needs(asked):
    query = asked.query
    assert (query.user, query.tenant_schema, query.query, query.channel) == (
        asked.alice,
        asked.schema,
        QUESTION,
        "portal",
    )
    assert query.outcome == QueryLog.Outcome.ANSWERED
    assert "30 days" in query.answer
    assert asked.refund.pk in query.document_ids
    assert query.chunk_ids
    assert (query.model, query.provider) == ("extractive", "extractive")
    assert query.latency_ms > 0
    assert query.created_at is not None


def test_users_see_only_their_own_history(asked):
    from apps.answers.selectors import query_history_for_user

    with in_tenant(asked.schema):
        bob = User.objects.create_user(username="bob", password="x" * 16)
        try:
            assert list(query_history_for_user(user=bob)) == []
            assert [row.pk for row in query_history_for_user(user=asked.alice)] == [asked.query.pk]
        finally:
            bob.delete()


def _export(schema: str, out: Path) -> dict:
    call_command("export_golden_set", "--tenant", schema, "--out", str(out))
    queries = [json.loads(line) for line in (out / "queries.jsonl").read_text().splitlines()]
    corpus = [json.loads(line) for line in (out / "corpus.jsonl").read_text().splitlines()]
    qrels = (out / "qrels" / "test.tsv").read_text().splitlines()
    return {"queries": queries, "corpus": corpus, "qrels": qrels}


def test_reviewed_feedback_is_exported_in_the_beir_layout(asked, tmp_path):
    exported = _export(asked.schema, tmp_path)

    (case,) = exported["queries"]
    assert case["_id"] == f"feedback-{asked.feedback.pk}"
    assert case["text"] == QUESTION
    assert case["expected_sources"] == ["policies/Refund policy.md"]
    assert (case["must_contain"], case["must_not_contain"]) == (["30 days"], ["no refunds"])
    assert exported["qrels"][0] == "query-id\tcorpus-id\tscore"
    assert {row.split("\t")[1] for row in exported["qrels"][1:]} == {row["_id"] for row in exported["corpus"]}
    assert all(row["source"] == "policies/Refund policy.md" for row in exported["corpus"])
    assert any("30 days" in row["text"] for row in exported["corpus"])


def test_the_golden_set_passes_against_the_live_answer_path(asked, tmp_path, capsys):
    _export(asked.schema, tmp_path)

    call_command("golden_eval", "--tenant", asked.schema, "--dataset", str(tmp_path))

    output = capsys.readouterr().out
    assert f"PASS feedback-{asked.feedback.pk}" in output
    assert "1 of 1 golden cases passed" in output


def test_a_failing_case_is_named_with_its_reasons_and_exits_non_zero(asked, tmp_path, capsys):
    _export(asked.schema, tmp_path)
    queries = tmp_path / "queries.jsonl"
    case = json.loads(queries.read_text())
    broken = {
        **case,
        "_id": "broken",
        "must_contain": ["90 days"],
        "must_not_contain": ["30 days"],
        "expected_sources": ["policies/missing.md"],
    }
    queries.write_text(json.dumps(case) + "\n" + json.dumps(broken) + "\n")

    with pytest.raises(CommandError, match="1 of 2 golden cases passed; failed: broken") as raised:
        call_command("golden_eval", "--tenant", asked.schema, "--dataset", str(tmp_path))

    assert raised.value.returncode == 1
    output = capsys.readouterr().out
    assert "FAIL broken: answer lacks '90 days'; answer contains '30 days'; none of the expected sources" in output


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist"),
        ("", "holds no cases"),
        ("not json\n", "queries.jsonl:1: not JSON"),
        ('{"_id": "x", "text": "q", "must_contain": "30 days"}\n', '"must_contain" must be a list of strings'),
    ],
)
def test_a_malformed_dataset_is_a_clear_error(asked, tmp_path, content, message):
    if content is not None:
        (tmp_path / "queries.jsonl").write_text(content)
    with pytest.raises(CommandError, match=message):
        call_command("golden_eval", "--tenant", asked.schema, "--dataset", str(tmp_path))


def test_unreviewed_feedback_is_not_exported(asked, tmp_path):
    with in_tenant(asked.schema):
        Feedback.objects.filter(pk=asked.feedback.pk).update(reviewed=False)
        try:
            assert _export(asked.schema, tmp_path)["queries"] == []
        finally:
            Feedback.objects.filter(pk=asked.feedback.pk).update(reviewed=True)
