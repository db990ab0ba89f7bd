"""What a question asks to exist ("Is there free parking at the Munich office?": free parking)."""

from __future__ import annotations

import pytest

from apps.answers.evidence.answer_types import thing_asked_to_exist


@pytest.mark.parametrize(
    ("question", "thing"),
    [
        ("Is there free parking at the Munich office?", "free parking"),
        ("Is there a company canteen at the Berlin office?", "company canteen"),
        ("Are there any public holidays in Portugal?", "public holidays"),
        ("Does the Lisbon office have a gym?", "gym"),
        ("Is there parking?", "parking"),
        ("is there a dress code", "dress code"),
    ],
)
def test_the_thing_ends_where_its_place_or_purpose_begins(question, thing):
    assert thing_asked_to_exist(question) == thing


@pytest.mark.parametrize(
    "question",
    ["Do we get a bonus at the end of the year?", "How do I get there?", "Where is the Munich office?"],
)
def test_other_questions_ask_for_no_thing_to_exist(question):
    assert thing_asked_to_exist(question) is None
