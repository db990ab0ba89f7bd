"""One OpenTelemetry span per step, with the attributes roadmap 7.1 asks for and never the question text."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from apps.answers.services import answer_question
from apps.tenants.context import in_tenant
from tests.support.spans import captured_spans

pytestmark = pytest.mark.integration

QUESTION = "Who approves refunds above EUR 5,000?"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    with captured_spans() as exporter:
        yield exporter


def test_each_step_has_a_span_under_the_question_span(answers_corpus, committed_db, spans):
    with in_tenant(answers_corpus.schema):
        result = answer_question(user=answers_corpus.carol, question=QUESTION, use_cache=False)

    finished = {span.name: span for span in spans.get_finished_spans() if span.name.startswith("answer.")}
    steps = ["planner", "retriever", "synthesizer", "verifier", "citation", "critic", "formatter"]
    assert set(finished) == {"answer.question", *(f"answer.{step}" for step in steps)}
    root = finished["answer.question"]
    assert format(root.context.trace_id, "032x") == result.trace_id
    for step in steps:
        span = finished[f"answer.{step}"]
        assert span.parent.span_id == root.context.span_id
        assert span.attributes["answer.step"] == step
        assert span.attributes["tenant.schema"] == answers_corpus.schema
        assert span.attributes["answer.query_length"] == len(QUESTION)
        assert span.attributes["answer.outcome"] == "ok"
        assert span.attributes["answer.duration_ms"] >= 0
    assert finished["answer.retriever"].attributes["answer.chunks_out"] > 0
    assert root.attributes["answer.outcome"] == "answered"
    for span in finished.values():
        assert all(QUESTION not in str(value) for value in span.attributes.values())
