"""Entities of a question: short, lower-case questions still name what the paragraphs mention."""

from __future__ import annotations

import pytest

from apps.text.entities import extract_query_entities

from .entity_helpers import extract_one, keys_of

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    "question", ["who founded the company that makes the iPhone", "who founded the company that makes the iphone"]
)
def test_short_questions_yield_lower_case_concepts_and_names(question):
    keys = keys_of(extract_query_entities(text=question))

    assert {"iphone", "company"} <= keys
    assert not {"who", "founded", "make", "makes"} & keys


# MuSiQue-style pairs: the question names something a paragraph (or its shorter/longer form) mentions.
QUESTION_PARAGRAPH_PAIRS = [
    (
        "How many Publix stores are in the state where Hello Love's performer lived when he died?",
        '"Hello Love" is a 1974 single by Hank Snow. "Hello Love" was Snow\'s seventh and final number one.',
        "hello love",
    ),
    (
        "The 1920 Summer Olympics in which Hans Edler's country competed were held where?",
        "Hans Edler (born in Björkhagen, Stockholm, Sweden on 23 March 1945) is a Swedish pop musician.",
        "hans edler",
    ),
    (
        "What body of water is near the location where the Siege of Cassel took place?",
        "The Siege of Cassel (March 1761) was a failed attempt by Duke Ferdinand of Brunswick to capture Kassel.",
        "siege of cassel",
    ),
    (
        "Which agency is in the state that has the birthplace of Jonathan Reid as its capital?",
        "Jonathan Douglass Reid (born October 24, 1972, Nashville, U.S.) is a professional boxer.",
        "jonathan reid",
    ),
    (
        "What time does the state where Greenfield-Central High is stop selling booze?",
        "Greenfield-Central High School is a secondary school located in the city of Greenfield, Indiana.",
        "greenfield central high",
    ),
    (
        "Who is the sibling of the performer of Decade?",
        "Decade is a compilation album by Canadian musician Neil Young, originally released in 1977.",
        "decade",
    ),
    (
        "What kind of plane dropped the bomb on Akinoshu Kenji's birthplace?",
        "Akinoshu Kenji was a sumo wrestler from Hiroshima, Japan.",
        "akinoshu kenji",
    ),
]


@pytest.mark.parametrize(("question", "paragraph", "shared_key"), QUESTION_PARAGRAPH_PAIRS)
def test_question_entities_meet_the_paragraph_that_mentions_them(question, paragraph, shared_key):
    question_keys = keys_of(extract_query_entities(text=question))
    paragraph_keys = keys_of(extract_one(paragraph))

    assert shared_key in question_keys & paragraph_keys
