"""Typos are corrected to the words of the documents, never to words the documents do not use."""

from __future__ import annotations

from collections.abc import Collection

import pytest

from apps.text.spelling import MAX_SUSPECTS, apostrophes_missing, one_edit_away, spelling_corrected, typo_suspects

DOCUMENT_WORDS = {"hotel": 12, "limit": 4, "search": 9, "scheduled": 3, "match": 30, "deregister": 2, "garden": 5}


def used(terms: Collection[str]) -> dict[str, int]:
    return {term: DOCUMENT_WORDS[term] for term in terms if term in DOCUMENT_WORDS}


def corrected(question: str) -> str:
    return spelling_corrected(question, passages_using=used).text


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("What's the hotle limit?", "What's the hotel limit?"),  # two letters swapped
        ("How do I serch for channels?", "How do I search for channels?"),  # a letter left out
        ("When is it sheduled?", "When is it scheduled?"),
        ("Hotle prices?", "Hotel prices?"),  # capitalised at the start of the sentence: not a name
        ("whats the hotle limit, i dont know", "what's the hotel limit, i don't know"),  # apostrophes given back
        ("Is the hotle's limit higher?", "Is the hotel's limit higher?"),  # a clitic stays
    ],
)
def test_a_typo_becomes_the_document_word_one_edit_away(typed, meant):
    assert corrected(typed) == meant


@pytest.mark.parametrize(
    "question",
    [
        "Is there a hotel in the Limt district?",  # capitalised inside the sentence: a name
        "Can I bring my yatch?",  # "match" is one edit away, but typists rarely miss the first letter
        "How do I reregister my car?",  # nor "deregister"
        "Who are the avant-garde painters?",  # part of a compound
        "Is hotle2 the new limit?",  # a code, not a word
        "I hope the hotel has a limit",  # English words, known or not to the documents, stay
        "Is the hotl open?",  # four letters: as often a lower-cased name
        "How much is the plutonium?",  # an English word the documents do not use is no typo of theirs
        "Wie hoch ist das Hotle-Limit für Reisen in Städten?",  # another language: not corrected into English
        "Welche Grenze gilt für Hotles?",
    ],
)
def test_names_compounds_english_words_and_first_letters_are_left_alone(question):
    assert corrected(question) == question


def test_a_word_unknown_to_english_and_to_the_documents_without_a_close_document_word_stays():
    assert spelling_corrected("Where is the zzyzxq office?", passages_using=used).replaced == {}


def test_a_word_the_documents_use_is_no_typo_even_if_english_does_not_know_it():
    seen: list[Collection[str]] = []

    def recorded(terms: Collection[str]) -> dict[str, int]:
        seen.append(terms)
        return {"hotle": 1, "hotel": 12} if "hotle" in terms else {}

    assert spelling_corrected("The hotle brand", passages_using=recorded).text == "The hotle brand"
    assert len(seen) == 1  # one lookup for every suspect and its candidates


def test_only_words_that_could_be_typos_reach_the_documents():
    assert typo_suspects("How many vacation days do I get at Northwind per year?") == []
    assert typo_suspects("How many vactaion days?") == ["vactaion"]
    assert apostrophes_missing("whats up, i dont know") == ["whats", "dont"]


def test_one_edit_away_covers_deletion_insertion_replacement_and_swap():
    edits = one_edit_away("hotle")
    assert {"hotl", "hotlee", "hotla", "hotel"} <= edits
    assert "hotle" not in edits
    assert "hoetl" not in edits  # two swaps away


def test_the_documents_are_asked_about_a_bounded_number_of_words():
    asked: list[Collection[str]] = []

    def recorded(terms: Collection[str]) -> dict[str, int]:
        asked.append(terms)
        return {}

    typed = [f"hotle{chr(97 + i) * 3}" for i in range(20)]
    spelling_corrected("Please check " + " and ".join(typed) + " for me.", passages_using=recorded)

    assert len(asked) == 1
    assert len(set(typed) & set(asked[0])) == MAX_SUSPECTS
    assert len(asked[0]) < MAX_SUSPECTS * 500
