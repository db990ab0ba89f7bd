"""A question that names something no passage mentions ("the Hamburg office") is weaker evidence."""

from __future__ import annotations

from apps.answers.evidence.answer_types import names_unmatched
from apps.answers.services import answer_question
from apps.tenants.context import in_tenant

OFFICES = "Office: Headquarters; city: Berlin. Office: Sales office; city: Munich."


def test_names_the_passages_do_not_mention():
    assert names_unmatched("What is the phone number of the Hamburg office?", [OFFICES]) == ["Hamburg"]
    assert names_unmatched("What is the phone number of the Munich office?", [OFFICES]) == []
    assert names_unmatched("Who is the CEO of Northwind?", ["Northwind Analytics GmbH sells software."]) == ["CEO"]
    # A name is matched as a word, whatever its case, not inside another word.
    assert names_unmatched("Where is the MUNICH office?", [OFFICES]) == []
    assert names_unmatched("Is Mun open?", [OFFICES]) == ["Mun"]


def test_question_words_months_and_days_are_not_names():
    passage = "Up to 5 unused days may be carried over into the first quarter of the next year."
    assert names_unmatched("How many unused holidays can I take into January?", [passage]) == []
    assert names_unmatched("Is the desk open on Saturday?", [passage]) == []
    assert names_unmatched("How do I stop recording and Where do I find the guide?", [passage]) == []
    assert names_unmatched("How do I reset my password?", [passage]) == []


def _evidence(result) -> dict:
    synthesizer = next(step for step in result.trace["steps"] if step["name"] == "synthesizer")
    return synthesizer["summary"]["evidence"]


def test_the_evidence_check_weighs_a_name_no_passage_mentions(answers_corpus, committed_db):
    with in_tenant(answers_corpus.schema):
        unknown = answer_question(
            user=answers_corpus.carol, question="What is the reception phone of the Hamburg office?", use_cache=False
        )
        known = answer_question(
            user=answers_corpus.carol, question="What is the reception phone of the Munich office?", use_cache=False
        )

    assert _evidence(unknown)["question_name_unmatched"] == 1.0
    assert _evidence(known)["question_name_unmatched"] == 0.0
    assert _evidence(unknown)["confidence"] < _evidence(known)["confidence"]
    assert known.outcome == "answered"
    assert "+49 89 5550 2000" in known.answer
