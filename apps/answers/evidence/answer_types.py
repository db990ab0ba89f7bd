"""What kind of answer a question asks for, and whether a sentence holds one.

"Who sang X?" needs a name, "when" a date, "how many" a number. A passage can be on topic and
still lack the thing asked for; that is the commonest way evidence looks relevant but is not
(ClapNQ's unanswerable questions), so the evidence check asks for the answer type, not only
similarity.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from apps.text.analyzer import STOP_WORDS

PERSON = "person"
DATE = "date"
NUMBER = "number"
PLACE = "place"

_TYPE_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (DATE, re.compile(r"\b(when|what (year|date|day|month|century|decade|time)|which (year|date|century|decade))\b")),
    (
        NUMBER,
        re.compile(
            r"\bhow (many|much|long|old|far|big|tall|high|deep|large|fast|often)\b"
            r"|\bwhat (percentage|percent|number|amount|age|size|population)\b"
        ),
    ),
    (PERSON, re.compile(r"\b(who|whom|whose)\b|\bwhat (is|was) the name of\b")),
    (PLACE, re.compile(r"\bwhere\b|\b(what|which) (country|city|state|county|continent|town|region|province)\b")),
]

MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december"
    "|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
YEAR_OR_DATE = re.compile(
    r"\b(1\d{3}|20\d{2})s?\b|\b\d{1,2}(st|nd|rd|th)? century\b|\b(" + MONTHS + r")\b"
    r"|\b(centur(y|ies)|decade|(mon|tues|wednes|thurs|fri|satur|sun)day)\b",
    re.IGNORECASE,
)
NUMBER_WORDS = re.compile(
    r"\b\d[\d,.]*\b|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|"
    r"forty|fifty|sixty|seventy|eighty|ninety|hundreds?|thousands?|millions?|billions?|dozens?|half|twice|"
    r"single|double|several|few)\b",
    re.IGNORECASE,
)
# A capitalised word that does not open the sentence, or a run of two capitalised words anywhere.
NAME = re.compile(r"(?<=[a-z,;:()\-] )[A-Z][\w'.-]+|\b[A-Z][\w'.-]+ (?:(?:of|de|van|von|the) )?[A-Z][\w'.-]+")


def expected_answer_type(question: str) -> str | None:
    lowered = " ".join(question.casefold().split())
    for kind, pattern in _TYPE_PATTERNS:
        if pattern.search(lowered):
            return kind
    return None


def holds_answer_type(sentence: str, *, kind: str | None, question: str) -> bool:
    """True when the sentence holds something of the asked type that the question does not already say."""
    if kind is None:
        return True
    asked = question.casefold()
    if kind == DATE:
        return any(match.group(0).casefold() not in asked for match in YEAR_OR_DATE.finditer(sentence))
    if kind == NUMBER:
        return any(match.group(0).casefold() not in asked for match in NUMBER_WORDS.finditer(sentence))
    # person and place: a name the question does not already contain
    return any(
        not all(part.casefold() in asked for part in match.group(0).split()) for match in NAME.finditer(sentence)
    )


# Capitalised, but no name a document must repeat: question words ("... and Where do I find"),
# months and days ("into January" for "the first quarter").
NOT_NAMES = (
    STOP_WORDS
    | set(MONTHS.split("|"))
    | {day + "day" for day in ("mon", "tues", "wednes", "thurs", "fri", "satur", "sun")}
)
# The words of a name, each long enough to mean something on its own ("Wi-Fi" has none).
NAME_WORD = re.compile(r"[^\W_]{3,}")
WORD = re.compile(r"[^\W_]+")


# "Is there free parking at the Munich office?", "Does the Lisbon office have a gym?": the thing the
# question asks to exist ("free parking", "a gym"), up to where its place or purpose begins.
_THING_END = r"(?=\s+(?:at|in|on|for|near|inside|within|of|to|with|from|if|when|during)\b|\s*[?.,!]|$)"
_THING = r"(?:a |an |any |some )?(?P<thing>[\w' -]+?)" + _THING_END
_EXISTENCE = re.compile(
    r"\b(?:(?:is|are) there|(?:do|does|did) [\w' -]+? (?:have|offer|provide)) " + _THING, re.IGNORECASE
)


def thing_asked_to_exist(question: str) -> str | None:
    """What a question asks to exist ("free parking" in "Is there free parking at the Munich
    office?"), or None for a question of another kind."""
    match = _EXISTENCE.search(question)
    return match.group("thing").strip() or None if match else None


def names_unmatched(question: str, passages: Iterable[str]) -> list[str]:
    """The names the question asks about that no passage mentions: "the Hamburg office" when the
    documents know Berlin, Munich and Lisbon, "the CEO"."""
    named = {word for match in NAME.finditer(question) for word in NAME_WORD.findall(match.group(0))}
    named = {word for word in named if word.casefold() not in NOT_NAMES}
    if not named:
        return []
    mentioned = {word.casefold() for passage in passages for word in WORD.findall(passage)}
    return sorted(word for word in named if word.casefold() not in mentioned)
