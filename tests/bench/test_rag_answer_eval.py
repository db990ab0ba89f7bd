"""`rag_answer_eval` ingests a small BEIR dataset and scores answers, refusals and citations."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from apps.answers.models import QueryLog
from apps.tenants.context import in_tenant
from tests.support.committed import committed_tenant

pytestmark = pytest.mark.integration

CORPUS = [
    {
        "_id": "d1",
        "title": "Mount Logan",
        "text": "Mount Logan is the highest mountain in Canada. It stands 5,959 metres tall.",
    },
    {
        "_id": "d2",
        "title": "Kingston Trio",
        "text": "The Reverend Mr. Black was recorded by The Kingston Trio in 1963.",
    },
    {"_id": "d3", "title": "Forecasting", "text": "Seasonality is a pattern in a time series that repeats every year."},
]
QUERIES = [
    {"_id": "q1", "text": "What is the highest mountain in Canada?", "answers": ["Mount Logan"]},
    {"_id": "q2", "text": "Who recorded The Reverend Mr. Black?", "answers": ["The Kingston Trio"]},
    {"_id": "q3", "text": "What is the airspeed of an unladen swallow?", "answerable": False},
]


@pytest.fixture
def dataset(tmp_path):
    (tmp_path / "qrels").mkdir()
    (tmp_path / "corpus.jsonl").write_text("\n".join(json.dumps(entry) for entry in CORPUS))
    (tmp_path / "queries.jsonl").write_text("\n".join(json.dumps(query) for query in QUERIES))
    (tmp_path / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n")
    return tmp_path


def test_the_report_scores_answers_refusals_citations_and_latency(committed_db, dataset):
    with committed_tenant("eval") as tenant:
        out = StringIO()
        call_command("rag_answer_eval", tenant=tenant.schema_name, dataset=str(dataset), ingest=True, stdout=out)
        report = json.loads(out.getvalue())
        with in_tenant(tenant.schema_name):
            logged = QueryLog.objects.filter(channel="eval").count()

    assert report["ingest"]["succeeded"] == 3
    assert (report["questions"], report["answerable"], report["unanswerable"]) == (3, 2, 1)
    assert report["answer_accuracy"] == 1.0
    assert report["refusal_rate_unanswerable"] == 1.0
    assert report["refusal_rate_answerable"] == 0.0
    assert report["citation_precision"] == 1.0
    for key in ("latency_p50_ms", "latency_p95_ms", "ttft_p50_ms", "ttft_p95_ms"):
        assert report[key] > 0
    assert logged == 3  # every question went through answer_question and its query log


def test_bad_arguments_are_clear_errors(committed_db, dataset, tmp_path):
    with pytest.raises(CommandError, match="not a BEIR dataset"):
        call_command("rag_answer_eval", tenant="alpha", dataset=str(tmp_path / "missing"))
    with pytest.raises(CommandError, match="no active tenant"):
        call_command("rag_answer_eval", tenant="nosuchtenant", dataset=str(dataset))
    with pytest.raises(CommandError, match="--limit"):
        call_command("rag_answer_eval", tenant="alpha", dataset=str(dataset), limit=0)
