"""The offline extractive provider composes a cited answer from the passages' best sentences."""

from __future__ import annotations

import re

import pytest

from apps.answers.evidence import ScoredSentence
from apps.answers.evidence.text import term_set
from apps.answers.providers.extractive import (
    NOT_FOUND,
    SECTION_WORDS,
    ExtractiveProvider,
    about_what_is_asked,
    sentences_choose,
)
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


def scored(passage: int, position: int, text: str, score: float, **fields) -> ScoredSentence:
    defaults = {"document_id": passage, "section": "Lost devices", "record": False}
    return ScoredSentence(
        passage_number=passage,
        position=position,
        text=text,
        similarity=score,
        coverage=0.0,
        has_answer_type=False,
        score=score,
        **{**defaults, **fields},
    )


def test_the_best_sentence_leads_and_its_section_around_it_follows_up_to_the_word_budget():
    ranked = [
        scored(1, 1, "Report a stolen laptop to the service desk within one hour.", 0.8),
        scored(1, 0, "Devices belong to the company.", 0.3),
        scored(1, 2, "The desk locks the device remotely.", 0.2),
        scored(1, 3, "File a police report as well.", 0.1),
        scored(1, 4, "New laptops are ordered by your manager.", 0.5, section="Ordering"),
    ]

    chosen = [sentence.text for sentence in sentences_choose(ranked)]

    # a short section is quoted whole, the best sentence first; never the next section
    assert chosen == [
        "Report a stolen laptop to the service desk within one hour.",
        "Devices belong to the company.",
        "The desk locks the device remotely.",
        "File a police report as well.",
    ]


def test_of_a_long_section_only_the_sentences_after_the_best_one_follow():
    long_sentence = " ".join(["word"] * (SECTION_WORDS - 10)) + "."
    ranked = [
        scored(1, 1, "Report a stolen laptop to the service desk within one hour.", 0.8),
        scored(1, 0, "Devices belong to the company.", 0.3),
        scored(1, 2, long_sentence, 0.2),
    ]

    # the section is longer than the budget: what follows the best sentence (a rule's condition or steps)
    assert [sentence.position for sentence in sentences_choose(ranked)] == [1, 2]


def test_the_section_continues_only_until_the_answer_is_long_enough():
    long_sentence = " ".join(["word"] * (SECTION_WORDS - 5)) + "."
    ranked = [
        scored(1, 0, "Report a stolen laptop within one hour.", 0.8),
        scored(1, 1, long_sentence, 0.1),
        scored(1, 2, "This one is past the budget.", 0.1),
    ]

    assert [sentence.position for sentence in sentences_choose(ranked)] == [0, 1]


def test_a_record_is_answered_alone_without_the_rows_after_it():
    ranked = [
        scored(1, 0, "Office: Berlin; phone: +49 30 1.", 0.8, record=True),
        scored(1, 1, "Office: Munich; phone: +49 89 2.", 0.2, record=True),
    ]

    assert [sentence.text for sentence in sentences_choose(ranked)] == ["Office: Berlin; phone: +49 30 1."]


OFFICES = [
    scored(1, 0, "Office: Headquarters; city: Berlin; address: Torstrasse 1.", 0.8, record=True, section=""),
    scored(1, 1, "Office: Sales office; city: Munich; address: Leopoldstrasse 44.", 0.7, record=True, section=""),
    scored(1, 2, "Every office opens at 8:00 on weekdays.", 0.5, section=""),
]


def test_a_record_about_another_thing_than_the_question_names_is_no_answer():
    munich = about_what_is_asked(OFFICES, asked="What is the address of the Munich office?", passages=PASSAGES)
    # Berlin's row ranked first, but the question names Munich: Munich's row and the prose remain.
    assert [sentence.position for sentence in munich] == [1, 2]
    # A question naming nothing keeps every row.
    assert about_what_is_asked(OFFICES, asked="What is the address of the office?", passages=PASSAGES) == OFFICES


def test_when_the_best_evidence_is_a_record_about_another_thing_nothing_is_left():
    """Asked for the Hamburg office, the best evidence is another office's row: the next prose
    sentence would be a near miss, so there is no answer (the provider then says it found nothing)."""
    assert about_what_is_asked(OFFICES, asked="What's the address of the Hamburg office?", passages=PASSAGES) == []


def test_a_record_without_the_thing_a_question_asks_to_exist_is_no_answer():
    """Lisbon's row names Lisbon but has no gym: quoting it would answer a question nobody asked."""
    assert about_what_is_asked(OFFICES, asked="Is there a gym at the Berlin office?", passages=PASSAGES) == []
    desk = [scored(1, 0, "Service desk — email: it-help@example.com.", 0.8, record=True, section="")]
    # One word of the thing is enough: the record says "email", the question "an email address".
    assert about_what_is_asked(desk, asked="Does the service desk have an email address?", passages=PASSAGES) == desk
    # A prose sentence stays: it may answer without the word ("Is there a limit ...?": "at least 14").
    prose = [scored(1, 0, "Passwords must have at least 14 characters.", 0.8, section="")]
    assert about_what_is_asked(prose, asked="Is there a limit on password length?", passages=PASSAGES) == prose


def test_the_provider_says_it_found_nothing_for_an_office_the_records_do_not_have():
    passages = [
        EvidencePassage(
            number=1,
            chunk_id=1,
            document_id=1,
            title="office-locations.csv",
            text="office,city,address\nHeadquarters,Berlin,Torstrasse 1\nSales office,Munich,Leopoldstrasse 44",
        )
    ]
    answer = "".join(
        event.text
        for event in ExtractiveProvider().stream(
            GenerationRequest(
                question="What's the address of the Hamburg office?",
                passages=passages,
                system="",
                prompt="",
                max_tokens=200,
            )
        )
        if isinstance(event, TextDelta)
    )

    assert answer == NOT_FOUND


def test_near_misses_join_from_the_same_document_but_never_from_another():
    ranked = [
        scored(1, 0, "Report a stolen laptop within one hour.", 0.80, section="A"),
        scored(3, 0, "Your manager orders your laptop before day one.", 0.79, document_id=9, section="B"),
        scored(2, 0, "Stolen phones are reported the same way.", 0.77, document_id=1, section="C"),
    ]

    chosen = [sentence.passage_number for sentence in sentences_choose(ranked)]

    assert chosen == [1, 2]


def test_a_question_of_several_hops_takes_another_documents_sentence_that_brings_a_term_it_asks_about():
    ranked = [
        scored(1, 0, "The opera Aschenbrodel was composed by Leo Blech.", 0.80, section="A"),
        scored(2, 0, "Leo Blech was born in Aachen.", 0.77, document_id=9, section="B"),
        scored(3, 0, "Aschenbrodel premiered in Prague.", 0.76, document_id=8, section="C"),
    ]
    asked = term_set("Where was the composer of Aschenbrodel born?")

    assert [s.passage_number for s in sentences_choose(ranked, hops_asking=asked)] == [1, 2]
    assert [s.passage_number for s in sentences_choose(ranked)] == [1]


LEAVE = EvidencePassage(
    number=1,
    chunk_id=3,
    document_id=3,
    title="Leave and Time Off",
    text=(
        "Leave and Time Off\n\n## Annual leave\n\nFull-time employees receive 28 days of paid annual leave per "
        "calendar year, in addition to public holidays. Part-time employees receive a pro-rata share.\n\n"
        "## Carry-over\n\nUp to 5 unused days may be carried over into the first quarter of the next year; "
        "carried-over days expire on 31 March. Request leave in the HR portal at least two weeks in advance."
    ),
)


def test_a_question_asking_two_things_gets_the_best_sentence_for_each():
    question = "How many vacation days do I get and can I carry them over?"
    answer = "".join(
        event.text
        for event in ExtractiveProvider().stream(
            GenerationRequest(question=question, passages=[LEAVE], system="", prompt="", max_tokens=500)
        )
        if isinstance(event, TextDelta)
    )

    assert "Up to 5 unused days may be carried over" in answer
    assert "28 days of paid annual leave" in answer
