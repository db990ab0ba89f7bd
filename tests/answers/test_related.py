"""A refusal whose evidence came close names where to look (title and section), never as an answer."""

from __future__ import annotations

from typing import Any

from django.test import override_settings

from apps.answers.citations import RELATED_DOCUMENTS, CitationRegistry
from apps.answers.evidence import ScoredSentence
from apps.answers.evidence.sentences import CLOSE_SCORE_WINDOW, closest_passages
from apps.answers.models import QueryLog
from apps.answers.services import answer_question
from apps.documents.selectors import documents_visible_to
from apps.integrations.llm.base import EvidencePassage
from apps.tenants.context import in_tenant
from tests.support.fake_anthropic import FakeAnthropicServer, claude_answers

REFUND_QUESTION = "What is the refund policy?"
# Every question's confidence is below this; the refund question's is above the borderline threshold.
ONLY_BORDERLINE: dict[str, Any] = {"ANSWER_EVIDENCE_MIN_CONFIDENCE": 0.999}


def _passage(number: int, document_id: int, text: str, title: str = "Policy") -> EvidencePassage:
    return EvidencePassage(number=number, chunk_id=100 + number, document_id=document_id, title=title, text=text)


def test_related_names_each_document_once_by_title_and_section_without_its_text():
    passages = [
        _passage(1, 7, "## Eligibility\n\nRefunds within 30 days.", title="Refund Policy"),
        _passage(2, 7, "## Exclusions\n\nServices are not refundable.", title="Refund Policy"),
        _passage(3, 8, "## Travel\n\nHotels up to EUR 180.", title="Expenses"),
        _passage(4, 9, "## Devices\n\nLock your screen.", title="Security"),
    ]
    registry = CitationRegistry(passages=passages, chunks={}, shown=lambda text: text.replace("Refund", "R****"))

    related = registry.related([2, 1, 4, 3])

    assert len(related) == RELATED_DOCUMENTS
    assert related[0] == {"chunk_id": 102, "document_id": 7, "title": "R**** Policy", "section": "Exclusions"}
    assert [item["document_id"] for item in related] == [7, 9]  # in the order given, each document once
    assert all("refundable" not in str(item) for item in related)
    assert registry.related([]) == []


def test_the_closest_passages_are_each_documents_best_within_the_window():
    ranked = [
        ScoredSentence(1, 0, "a", 0.6, 0.5, True, 0.65, document_id=7),
        ScoredSentence(3, 1, "b", 0.5, 0.5, True, 0.60, document_id=8),
        ScoredSentence(2, 0, "c", 0.5, 0.5, True, 0.58, document_id=7),
        ScoredSentence(4, 0, "d", 0.3, 0.2, True, 0.65 - CLOSE_SCORE_WINDOW - 0.01, document_id=9),
    ]

    assert closest_passages(ranked) == [1, 3]  # document 9's best is too far below the best
    assert closest_passages([]) == []


def test_a_borderline_refusal_names_the_documents_that_came_close(answers_corpus, committed_db):
    with override_settings(**ONLY_BORDERLINE), in_tenant(answers_corpus.schema):
        first = answer_question(user=answers_corpus.carol, question=REFUND_QUESTION)
        replayed = answer_question(user=answers_corpus.carol, question=REFUND_QUESTION)
        visible = set(documents_visible_to(user=answers_corpus.carol).values_list("pk", flat=True))

    assert (first.outcome, first.reason) == ("refused", "insufficient_evidence")
    assert first.related
    assert first.related[0]["title"] == "Customer Refund Policy"
    # Only documents carol may open: the confidential Falcon memo about refunds is not among them.
    assert {item["document_id"] for item in first.related} <= visible
    assert answers_corpus.falcon_memo.pk not in {item["document_id"] for item in first.related}
    # The query log keeps which passages were named (ids only), for whoever must say who saw what.
    with in_tenant(answers_corpus.schema):
        logged = QueryLog.objects.get(pk=first.query_id)
    formatter = next(step for step in logged.trace["steps"] if step["name"] == "formatter")
    assert formatter["summary"]["related_chunk_ids"] == [item["chunk_id"] for item in first.related]
    assert replayed.cached
    assert replayed.related == first.related


def test_claude_saying_the_passages_do_not_answer_also_names_them(answers_corpus, committed_db):
    with FakeAnthropicServer() as fake, claude_answers(fake, **ONLY_BORDERLINE), in_tenant(answers_corpus.schema):
        fake.reply_stream("The passages do not say how long a refund takes to arrive [1].")
        result = answer_question(user=answers_corpus.carol, question=REFUND_QUESTION, use_cache=False)

    assert (result.outcome, result.reason) == ("refused", "model_refused")
    assert result.related
    assert result.related[0]["title"] == "Customer Refund Policy"


def test_answers_and_clear_refusals_name_no_related_documents(answers_corpus, committed_db):
    with in_tenant(answers_corpus.schema):
        answered = answer_question(user=answers_corpus.carol, question=REFUND_QUESTION, use_cache=False)
        refused = answer_question(
            user=answers_corpus.carol, question="What is the boiling point of mercury on Mars?", use_cache=False
        )

    assert (answered.outcome, answered.related) == ("answered", [])
    assert refused.outcome == "refused"
    assert refused.related == []
