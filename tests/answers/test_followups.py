"""Follow-ups made to stand alone from the questions before them (no database, no model)."""

from __future__ import annotations

import pytest

from apps.answers.followups import ELLIPSIS, REFERENCE, TOO_SHORT, Turn, is_elliptical, standalone_question

VACATION = [Turn("How many vacation days do I get per year?")]
LAPTOP = [Turn("My laptop got stolen, what do I do?")]


@pytest.mark.parametrize(
    ("earlier", "follow_up", "expected", "rule"),
    [
        (VACATION, "And for part-timers?", "How many vacation days do I get per year, for part-timers?", ELLIPSIS),
        (VACATION, "what about part-timers?", "How many vacation days do I get per year, for part-timers?", ELLIPSIS),
        (VACATION, "and managers?", "How many vacation days do I get per year, for managers?", ELLIPSIS),
        (VACATION, "What if I'm sick?", "How many vacation days do I get per year, if I'm sick?", ELLIPSIS),
        (VACATION, "Part-timers?", "How many vacation days do I get per year, for Part-timers?", ELLIPSIS),
        (
            VACATION,
            "Can I carry them over to next year?",
            "Can I carry the vacation days over to next year?",
            REFERENCE,
        ),
        (VACATION, "Who approves that?", "Who approves the vacation days?", REFERENCE),
        (VACATION, "And how do I request them?", "How do I request the vacation days?", REFERENCE),
        (LAPTOP, "Who do I need to tell?", "Who do I need to tell about the laptop?", TOO_SHORT),
        # The topic follows a determiner: "my password", not the verb "reset" before it.
        ([Turn("How do I reset my password?")], "How long must it be?", "How long must the password be?", REFERENCE),
        # "that" is the reporting the first question asked about, not the laptop.
        (
            [Turn("If my laptop gets stolen, who do I tell first?")],
            "and how fast do I have to do that?",
            "How fast do I have to do that (If my laptop gets stolen, who do I tell first)?",
            REFERENCE,
        ),
        (LAPTOP, "Can I do it online?", "Can I do it online (My laptop got stolen, what do I do)?", REFERENCE),
    ],
)
def test_a_follow_up_becomes_a_question_that_stands_alone(earlier, follow_up, expected, rule):
    rewrite = standalone_question(follow_up, earlier)

    assert (rewrite.question, rewrite.rule) == (expected, rule)


@pytest.mark.parametrize(
    "question",
    [
        "How do I reset my password?",  # a new question in the same thread
        "How do I reset my password if I forgot it?",  # the pronoun points into its own question
        "Is it possible to work from home?",  # a placeholder "it"
        "How long does it take to get a new laptop?",
        "Is that form mandatory?",  # "that" before a noun
    ],
)
def test_a_question_that_stands_alone_is_left_as_it_is(question):
    assert standalone_question(question, VACATION).question == question
    assert standalone_question(question, VACATION).rule == ""


def test_the_first_question_of_a_thread_is_never_rewritten():
    assert standalone_question("And for part-timers?", []).question == "And for part-timers?"


def test_a_chain_of_fragments_leans_on_the_question_that_started_it():
    earlier = [
        *VACATION,
        Turn("And for part-timers?", "How many vacation days do I get per year, for part-timers?"),
    ]

    assert standalone_question("And for managers?", earlier).question == (
        "How many vacation days do I get per year, for managers?"
    )
    # A pronoun refers to the topic of the last full question, as it was understood.
    assert standalone_question("Can I carry them over?", earlier).question == "Can I carry the vacation days over?"


def test_the_opener_of_a_new_question_in_the_thread_is_dropped():
    rewrite = standalone_question("And how do I reset my password?", VACATION)

    assert rewrite.question == "How do I reset my password?"


def test_fragments_are_told_from_questions():
    assert is_elliptical("and for part-timers?")
    assert is_elliptical("Lisbon?")
    assert not is_elliptical("How do I reset my password?")
    assert not is_elliptical("and how do I request them?")
