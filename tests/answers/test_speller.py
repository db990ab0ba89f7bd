"""The speller corrects a question's typos to the words of the documents the asker may view."""

from __future__ import annotations

from django.test import override_settings

from apps.answers.models import QueryLog
from apps.answers.services import answer_question
from apps.tenants.context import in_tenant


def steps(result) -> list[str]:
    return [step["name"] for step in result.trace["steps"]]


def test_a_typo_is_corrected_and_the_answer_says_how_it_understood_the_question(answers_corpus, committed_db):
    with in_tenant(answers_corpus.schema):
        result = answer_question(user=answers_corpus.carol, question="What is the hotle limit in major cities?")
        logged = QueryLog.objects.get(pk=result.query_id)

    assert result.standalone_question == "What is the hotel limit in major cities?"
    assert result.outcome == "answered"
    assert "EUR 180" in result.answer
    speller = next(step for step in result.trace["steps"] if step["name"] == "speller")
    assert speller["summary"] == {"words_corrected": 1}  # how many, never which
    assert logged.query == "What is the hotle limit in major cities?"  # the asker's own words are kept
    assert logged.standalone_query == result.standalone_question


def test_a_word_only_in_a_document_the_asker_may_not_view_is_never_suggested(answers_corpus, committed_db):
    question = "Do platnum customers get a longer refund window?"  # "platinum" is only in the Falcon memo
    with in_tenant(answers_corpus.schema):
        for_carol = answer_question(user=answers_corpus.carol, question=question, use_cache=False)
        for_alice = answer_question(user=answers_corpus.alice, question=question, use_cache=False)

    assert for_carol.standalone_question == ""
    assert "platinum" not in str(for_carol.trace)
    assert for_alice.standalone_question == "Do platinum customers get a longer refund window?"


def test_a_question_without_unknown_words_takes_no_speller_step(answers_corpus, committed_db):
    with in_tenant(answers_corpus.schema):
        plain = answer_question(user=answers_corpus.carol, question="What is the hotel limit in major cities?")
        with override_settings(ANSWER_SPELLING_CORRECTION=False):
            typo = answer_question(user=answers_corpus.carol, question="What is the hotle limit in towns?")

    assert "speller" not in steps(plain)
    assert "speller" not in steps(typo)
    assert typo.standalone_question == ""
