"""The offline extractive provider composes a cited answer from the passages' best sentences."""

from __future__ import annotations

import re

import pytest

from apps.answers.providers.extractive import ExtractiveProvider
from apps.answers.steps.verifier import Evidence, sentence_verify
from apps.integrations.llm.base import Completion, EvidencePassage, GenerationRequest, TextDelta

pytestmark = pytest.mark.integration  # sentence embeddings go through the Redis cache

PASSAGES = [
    EvidencePassage(
        number=1,
        chunk_id=1,
        document_id=1,
        title="Office locations",
        text="Office locations\n\nThe Berlin office is at Torstrasse 1. It opens at 8:00 on weekdays.",
    ),
    EvidencePassage(
        number=2,
        chunk_id=2,
        document_id=2,
        title="Customer Refund Policy",
        text="Customer Refund Policy\n\nCustomers may request a full refund within 30 days of the original "
        "purchase date. Refunds are issued to the original payment method only.",
    ),
]


def request(question: str, *, max_tokens: int = 500) -> GenerationRequest:
    return GenerationRequest(question=question, passages=PASSAGES, system="", prompt="", max_tokens=max_tokens)


def test_the_answer_quotes_the_best_sentences_each_cited_and_streams_word_by_word():
    events = list(ExtractiveProvider().stream(request("Within how many days can customers get a full refund?")))

    deltas = [event for event in events if isinstance(event, TextDelta)]
    assert isinstance(events[-1], Completion)
    assert events[-1].model == "extractive"
    assert len(deltas) > 5
    assert events[-1].output_tokens == len(deltas)
    answer = "".join(delta.text for delta in deltas)
    assert answer.startswith("Customers may request a full refund within 30 days of the original purchase date [2].")
    evidence = Evidence(PASSAGES)
    for sentence in re.split(r"(?<=\.)\s+", answer):
        assert sentence_verify(sentence, evidence=evidence).kept, sentence
    assert "Office locations" not in answer  # headings are context, never quoted as sentences


def test_max_tokens_cuts_the_answer():
    events = list(ExtractiveProvider().stream(request("What is the refund policy?", max_tokens=4)))
    assert len([event for event in events if isinstance(event, TextDelta)]) == 4
    assert events[-1].stop_reason == "max_tokens"


def test_without_passages_it_says_it_found_nothing():
    empty = GenerationRequest(question="Refunds?", passages=[], system="", prompt="", max_tokens=50)
    text = "".join(event.text for event in ExtractiveProvider().stream(empty) if isinstance(event, TextDelta))
    assert text == "I could not find this in the documents you can access."
