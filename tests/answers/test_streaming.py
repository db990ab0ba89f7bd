"""Streaming, cancellation and timeouts of answer_question, with Claude played by a real local HTTP server
(the real Anthropic SDK streams from it) and the offline extractive provider."""

from __future__ import annotations

import logging
import re
import time
from typing import Any

import pytest
from django.test import override_settings

from apps.answers.errors import QueryTimeoutError
from apps.answers.models import QueryLog
from apps.answers.router import GenerationRecord, model_router
from apps.answers.services import answer_question
from apps.integrations.llm.base import GenerationRequest
from apps.tenants.context import in_tenant
from tests.retrieval.doubles import legs_with_graph
from tests.support.fake_anthropic import FakeAnthropicServer, claude_answers

pytestmark = pytest.mark.integration

REFUND_QUESTION = "What is the refund policy?"
# Claude may cite any passage; the verifier keeps the citations that support each sentence.
EVERY_PASSAGE = "[1][2][3][4][5][6]"
GROUNDED = (
    f"Customers may request a full refund within 30 days of the original purchase date {EVERY_PASSAGE}. "
    f"Refunds are issued to the original payment method only {EVERY_PASSAGE}. "
    f"Refunds above EUR 5,000 need approval from the Head of Finance before they are issued {EVERY_PASSAGE}. "
)


@pytest.fixture(scope="module", autouse=True)
def _sdk_warmed_up(answers_corpus, django_db_blocker):
    """The first Anthropic SDK call of a process pays for imports and client set-up (seconds on a busy
    machine); pay it before the tests that measure time."""
    with django_db_blocker.unblock(), FakeAnthropicServer() as fake, claude_answers(fake):
        fake.reply_stream("Warm.")
        request = GenerationRequest(question="q", passages=[], system="s", prompt="p", max_tokens=5)
        list(model_router().stream(request, tenant_schema=answers_corpus.schema, record=GenerationRecord()))


def test_events_stream_in_order_and_add_up_to_the_result(answers_corpus, committed_db):
    with in_tenant(answers_corpus.schema):
        events = list(answer_question(user=answers_corpus.carol, question=REFUND_QUESTION, stream=True))

    kinds = [event.type for event in events]
    assert kinds[-2:] == ["trace", "done"]
    assert set(kinds[:-2]) == {"citation", "token"}
    assert kinds[0] == "citation"
    done = events[-1].data
    assert done["outcome"] == "answered"
    assert "".join(event.data["text"] for event in events if event.type == "token") == done["answer"]
    # A citation is announced before the first token that uses its number.
    announced: set[int] = set()
    for event in events:
        if event.type == "citation":
            announced.add(event.data["number"])
            assert set(event.data) == {"number", "chunk_id", "document_id", "title", "section", "excerpt", "source"}
        elif event.type == "token":
            used = {int(n) for n in re.findall(r"\[(\d+)\]", event.data["text"])}
            assert used <= announced
    assert events[-2].data["trace_id"] == done["trace_id"]
    with in_tenant(answers_corpus.schema):
        assert QueryLog.objects.get(pk=done["query_id"]).answer == done["answer"]


def test_a_claude_answer_keeps_only_sentences_its_citations_support(answers_corpus, committed_db):
    every_passage = EVERY_PASSAGE
    with FakeAnthropicServer() as fake, claude_answers(fake), in_tenant(answers_corpus.schema):
        fake.reply_stream(
            f"Customers may request a full refund within 30 days of the original purchase date {every_passage}. "
            f"Customers may request a full refund within 45 days of the original purchase date {every_passage}. "
            f"The moon landing was staged in a film studio {every_passage}. "
            "Refunds are issued to the original payment method only [9]."
        )
        result = answer_question(user=answers_corpus.carol, question=REFUND_QUESTION, use_cache=False)

    assert result.outcome == "answered"
    assert result.provider == "anthropic"
    assert result.model == "claude-test"
    assert result.answer.startswith("Customers may request a full refund within 30 days of the original purchase date")
    assert "45 days" not in result.answer
    assert "moon" not in result.answer
    assert "payment method" not in result.answer
    assert {source["source"].rsplit("/", 1)[-1] for source in result.sources} == {"refund-policy.md"}
    verifier = next(step for step in result.trace["steps"] if step["name"] == "verifier")
    assert verifier["summary"]["dropped"] == {"unsupported_number": 1, "unsupported": 1, "unknown_citation": 1}
    # The prompt holds the passages as delimited data, and the system prompt says they are not instructions.
    body = fake.requests[-1].body
    assert "untrusted data" in str(body["system"])
    assert "<passages>" in str(body["messages"])
    assert "</passage>" in str(body["messages"])


def test_closing_the_stream_cancels_the_provider_and_logs_the_question(answers_corpus, committed_db):
    with FakeAnthropicServer() as fake, claude_answers(fake), in_tenant(answers_corpus.schema):
        fake.reply_stream(GROUNDED * 20, token_delay_seconds=0.05)
        events = answer_question(user=answers_corpus.carol, question=REFUND_QUESTION, stream=True, use_cache=False)
        # The verified first sentence may cite one or several passages: read up to its token.
        received = []
        for event in events:
            received.append(event)
            if event.type == "token":
                break
        events.close()
        outcome = fake.wait_for_stream_end(timeout=5)
        row = QueryLog.objects.filter(user=answers_corpus.carol).order_by("-id").first()

    *citations, first_token = received
    assert citations
    assert {event.type for event in citations} == {"citation"}
    assert first_token.type == "token"
    assert outcome.disconnected
    assert not outcome.completed
    assert (row.outcome, row.reason) == ("cancelled", "client_went_away")
    assert row.answer == first_token.data["text"]


def test_a_slow_provider_times_out_with_a_clear_error_that_is_logged(answers_corpus, committed_db, caplog):
    with (
        FakeAnthropicServer() as fake,
        claude_answers(fake, ANSWER_TIMEOUT_SECONDS=1.0),
        in_tenant(answers_corpus.schema),
        caplog.at_level(logging.WARNING, logger="apps.answers"),
    ):
        fake.reply_stream(GROUNDED * 10, token_delay_seconds=0.2)
        started = time.perf_counter()
        with pytest.raises(QueryTimeoutError) as raised:
            answer_question(user=answers_corpus.carol, question=REFUND_QUESTION, use_cache=False)
        elapsed = time.perf_counter() - started
        row = QueryLog.objects.get(pk=raised.value.query_id)

    assert elapsed < 2.5
    assert raised.value.step == "synthesizer"
    assert (row.outcome, row.reason) == ("timed_out", "timeout:synthesizer")
    assert row.answer.startswith("The answer took too long")
    assert fake.wait_for_stream_end(timeout=5).disconnected
    timed_out = [record for record in caplog.records if record.getMessage() == "question timed_out"]
    assert timed_out
    assert timed_out[0].answer_trace_id == row.trace_id
    assert timed_out[0].query_id == row.pk
    assert all(REFUND_QUESTION not in str(vars(record)) for record in caplog.records)  # no text in logs


def test_a_streamed_timeout_ends_with_an_error_event(answers_corpus, committed_db):
    with (
        FakeAnthropicServer() as fake,
        claude_answers(fake, ANSWER_TIMEOUT_SECONDS=0.8),
        in_tenant(answers_corpus.schema),
    ):
        fake.reply_stream(GROUNDED, delay_seconds=3)  # nothing before the deadline
        events = list(
            answer_question(user=answers_corpus.carol, question=REFUND_QUESTION, stream=True, use_cache=False)
        )

    assert [event.type for event in events] == ["error", "trace", "done"]
    assert events[0].data["code"] == "timed_out"
    assert events[-1].data["outcome"] == "timed_out"
    synthesizer = next(step for step in events[1].data["steps"] if step["name"] == "synthesizer")
    assert synthesizer["outcome"] == "timed_out"


def test_a_step_past_its_own_budget_times_out(answers_corpus, committed_db):
    legs = legs_with_graph("SlowLeg")
    budgets = {"planner": 1.0, "retriever": 0.3, "synthesizer": 10.0, "verifier": 1.0}
    with (
        override_settings(RETRIEVAL_LEGS=legs, RETRIEVAL_LEG_TIMEOUT_SECONDS=0.6, ANSWER_STEP_BUDGETS_SECONDS=budgets),
        in_tenant(answers_corpus.schema),
        pytest.raises(QueryTimeoutError, match="retriever") as raised,
    ):
        answer_question(user=answers_corpus.carol, question=REFUND_QUESTION, use_cache=False)

    with in_tenant(answers_corpus.schema):
        row = QueryLog.objects.get(pk=raised.value.query_id)
    assert (row.outcome, row.reason) == ("timed_out", "timeout:retriever")
    assert [(step["name"], step["outcome"]) for step in row.trace["steps"]] == [
        ("planner", "ok"),
        ("retriever", "timed_out"),
    ]


UNANSWERABLE = "What is the boiling point of mercury on Mars?"


def test_claude_is_asked_while_the_evidence_is_still_being_judged(answers_corpus, committed_db, monkeypatch):
    """Speculative generation: the request goes out first, so the evidence check costs no time to first token."""
    from apps.answers.steps import synthesizer

    requests_seen_by_the_check: list[int] = []
    real_rank = synthesizer.sentences_rank

    def rank_once_the_request_is_out(**arguments):
        deadline = time.monotonic() + 5
        while not fake.requests and time.monotonic() < deadline:
            time.sleep(0.005)
        requests_seen_by_the_check.append(len(fake.requests))
        return real_rank(**arguments)

    monkeypatch.setattr(synthesizer, "sentences_rank", rank_once_the_request_is_out)
    with FakeAnthropicServer() as fake, claude_answers(fake), in_tenant(answers_corpus.schema):
        fake.reply_stream(GROUNDED, delay_seconds=0.2)
        result = answer_question(user=answers_corpus.carol, question=REFUND_QUESTION, use_cache=False)

    assert requests_seen_by_the_check[0] == 1
    assert (result.outcome, result.provider) == ("answered", "anthropic")
    assert "30 days" in result.answer
    synthesizer_step = next(step for step in result.trace["steps"] if step["name"] == "synthesizer")
    assert synthesizer_step["summary"]["speculative"] is True


def test_a_refusal_abandons_the_speculative_call_and_shows_none_of_its_text(answers_corpus, committed_db):
    with FakeAnthropicServer() as fake, claude_answers(fake), in_tenant(answers_corpus.schema):
        fake.reply_stream("Mercury boils at 357 degrees on Mars [1]. " * 20, delay_seconds=2, token_delay_seconds=0.05)
        result = answer_question(user=answers_corpus.carol, question=UNANSWERABLE, use_cache=False)
        first_token_was_out = bool(fake.streams) and fake.streams[0].tokens_sent > 0
        outcome = fake.wait_for_stream_end(timeout=10)
        row = QueryLog.objects.get(pk=result.query_id)

    assert (result.outcome, result.reason, result.provider) == ("refused", "insufficient_evidence", "")
    assert "Mercury boils" not in result.answer
    assert not first_token_was_out  # the refusal did not wait for the model's first token
    assert len(fake.requests) == 1
    assert outcome.disconnected  # closed as soon as its first token came
    assert not outcome.completed
    assert outcome.tokens_sent <= 3
    assert fake.in_flight == 0
    assert (row.outcome, row.provider, row.output_tokens) == ("refused", "", 0)


def test_without_speculation_a_refusal_never_calls_claude(answers_corpus, committed_db):
    with FakeAnthropicServer() as fake, claude_answers(fake, speculative=False), in_tenant(answers_corpus.schema):
        fake.reply_stream(GROUNDED)
        refused = answer_question(user=answers_corpus.carol, question=UNANSWERABLE, use_cache=False)
        answered = answer_question(user=answers_corpus.carol, question=REFUND_QUESTION, use_cache=False)

    assert refused.outcome == "refused"
    assert answered.outcome == "answered"
    assert len(fake.requests) == 1  # the answered question's only
    synthesizer_step = next(step for step in answered.trace["steps"] if step["name"] == "synthesizer")
    assert synthesizer_step["summary"]["speculative"] is False


# Every question's confidence is below this, and the refund question's (well over 0.5) is above the
# model's borderline threshold: it becomes borderline evidence.
ONLY_BORDERLINE: dict[str, Any] = {"ANSWER_EVIDENCE_MIN_CONFIDENCE": 0.999}


def _synthesizer_evidence(result) -> dict:
    return next(step for step in result.trace["steps"] if step["name"] == "synthesizer")["summary"]["evidence"]


def test_borderline_evidence_goes_to_claude_which_may_answer_from_it(answers_corpus, committed_db):
    with FakeAnthropicServer() as fake, claude_answers(fake, **ONLY_BORDERLINE), in_tenant(answers_corpus.schema):
        fake.reply_stream(GROUNDED)
        result = answer_question(user=answers_corpus.carol, question=REFUND_QUESTION, use_cache=False)

    evidence = _synthesizer_evidence(result)
    assert (evidence["sufficient"], evidence["borderline"], evidence["left_to_model"]) == (False, True, True)
    assert (result.outcome, result.provider) == ("answered", "anthropic")
    assert "30 days" in result.answer


@pytest.mark.parametrize(
    "refusal",
    [
        "I could not find this in the documents you can access.",
        "The passages do not say how long a refund takes to arrive [1].",
        "None of the provided documents mention this. The refund policy covers eligibility only [2].",
    ],
)
def test_claude_saying_the_passages_do_not_answer_is_a_recorded_refusal(answers_corpus, committed_db, refusal):
    with FakeAnthropicServer() as fake, claude_answers(fake, **ONLY_BORDERLINE), in_tenant(answers_corpus.schema):
        fake.reply_stream(refusal)
        result = answer_question(user=answers_corpus.carol, question=REFUND_QUESTION, use_cache=False)
        row = QueryLog.objects.get(pk=result.query_id)

    assert (result.outcome, result.reason, result.provider) == ("refused", "model_refused", "anthropic")
    assert result.answer == "I could not find this in the documents you can access."
    assert result.citations == []
    assert (row.outcome, row.reason) == ("refused", "model_refused")
    verifier = next(step for step in result.trace["steps"] if step["name"] == "verifier")
    assert verifier["summary"]["dropped"] == {"model_refusal": 1}


def test_claude_answering_without_citations_is_refused_not_shown(answers_corpus, committed_db):
    with FakeAnthropicServer() as fake, claude_answers(fake), in_tenant(answers_corpus.schema):
        fake.reply_stream(
            "Customers may request a full refund within 30 days of the original purchase date. "
            "Refunds are issued to the original payment method only."
        )
        result = answer_question(user=answers_corpus.carol, question=REFUND_QUESTION, use_cache=False)

    assert (result.outcome, result.reason) == ("refused", "no_supported_sentence")
    assert "30 days" not in result.answer
    verifier = next(step for step in result.trace["steps"] if step["name"] == "verifier")
    assert verifier["summary"]["dropped"] == {"uncited": 2}


def test_a_refusal_after_an_answer_is_dropped_and_the_answer_stands(answers_corpus, committed_db):
    with FakeAnthropicServer() as fake, claude_answers(fake), in_tenant(answers_corpus.schema):
        fake.reply_stream(
            f"Customers may request a full refund within 30 days of the original purchase date {EVERY_PASSAGE}. "
            "The documents do not mention refunds for hardware [1]."
        )
        result = answer_question(user=answers_corpus.carol, question=REFUND_QUESTION, use_cache=False)

    assert result.outcome == "answered"
    assert "30 days" in result.answer
    assert "hardware" not in result.answer


def test_without_a_judging_model_borderline_evidence_is_refused(answers_corpus, committed_db):
    with override_settings(**ONLY_BORDERLINE), in_tenant(answers_corpus.schema):
        result = answer_question(user=answers_corpus.carol, question=REFUND_QUESTION, use_cache=False)

    evidence = _synthesizer_evidence(result)
    assert evidence["borderline"] is True
    assert "left_to_model" not in evidence
    assert (result.outcome, result.reason, result.provider) == ("refused", "insufficient_evidence", "")
