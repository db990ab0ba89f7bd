"""A question's sentences: the one that asks, and the ones before it that tell the asker's situation."""

from __future__ import annotations

import pytest

from apps.text.questions import asked_parts, asked_sentence, question_sentences


@pytest.mark.parametrize(
    ("question", "sentences"),
    [
        ("I rent a flat in England. It needs repairs! Can my landlord evict me?", 3),
        ("In what county is the city where Harris W. Fawell was born?", 1),  # an initial
        ("What was Mr. Smith's first name?", 1),  # a title
        ("Who leads the U.S. Army today?", 1),  # a dotted abbreviation
        ("The release is version 2.5 of the app. What changed?", 2),  # a decimal point is no stop
        ("i live in the uk. can i stay?", 2),  # typed without capitals
        ("It costs approx. 5 euros. Why?", 2),  # an abbreviation's stop ends no sentence
        ("My son is aged 3. Can he get free childcare?", 2),  # a number before a stop is no initial
        ("1. what are five duties of political parties", 1),  # nor is a list's number
    ],
)
def test_a_question_is_split_where_a_sentence_ends_and_not_at_every_stop(question, sentences):
    assert len(question_sentences(question)) == sentences
    assert "".join(question_sentences(question)).replace(" ", "") == question.replace(" ", "")


QUESTION = "Who is the spouse of the director of Big Eyes?"


def test_the_asked_sentence_is_the_last_one():
    assert asked_sentence("I rent a flat which needs repairs. Can my landlord evict me?") == "Can my landlord evict me?"
    assert asked_sentence(QUESTION) == QUESTION


@pytest.mark.parametrize(
    ("sentence", "parts"),
    [
        (
            "How many vacation days do I get and can I carry them over?",
            ("How many vacation days do I get", "can I carry them over?"),
        ),
        ("What is source and how to search data for channels?", ("What is source", "how to search data for channels?")),
        (
            "Am I required to pay council tax, and how much discount am I eligible for?",
            ("Am I required to pay council tax", "how much discount am I eligible for?"),
        ),
        (
            "How do I schedule a recording and also what is timeshift?",
            ("How do I schedule a recording", "what is timeshift?"),
        ),
        # One ask: "and" joins two things asked about, not two questions.
        ("How do I configure Backlight and Brightness?", ("How do I configure Backlight and Brightness?",)),
        ("Who approves and pays my expenses?", ("Who approves and pays my expenses?",)),
        # A part of one word asks nothing on its own.
        ("Why and how?", ("Why and how?",)),
    ],
)
def test_a_sentence_asking_two_things_is_split_into_its_asks(sentence, parts):
    assert asked_parts(sentence) == parts
