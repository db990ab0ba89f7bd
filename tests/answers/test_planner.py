"""The planner's classification and sub-questions (pure functions)."""

from __future__ import annotations

import pytest

from apps.answers.steps.planner import _classify
from apps.text.questions import sub_questions


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("Hello!", "chit_chat"),
        ("thanks a lot", "chit_chat"),
        ("Write me a poem about refunds", "out_of_scope"),
        ("Tell me a joke", "out_of_scope"),
        ("What is 17 * 3?", "out_of_scope"),
        ("What is the refund policy?", "lookup"),
        ("Hello, what is the refund policy?", "lookup"),
        ("Who wrote the security policy?", "lookup"),
    ],
)
def test_classification(question, kind):
    assert _classify(question) == kind


def test_multi_hop_questions_get_the_embedded_clauses_assub_questions():
    assert sub_questions(
        "Who was the first president of the association which published Journal of Psychotherapy Integration?"
    ) == ("association which published Journal of Psychotherapy Integration",)
    assert sub_questions("What kind of plane dropped the bomb on Akinoshu Kenji's birthplace?") == (
        "birthplace of Akinoshu Kenji",
    )
    assert "composer of Aschenbrodel" in sub_questions(
        "Who was in charge of the country where the composer of Aschenbrodel was a citizen?"
    )
    assert sub_questions("What is the refund policy?") == ()
