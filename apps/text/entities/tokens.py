"""Tokens of a text for the offline extractor: one linear regex pass, with sentence starts marked.

A sentence start matters because capitalisation there says nothing about names. The tokeniser keeps
the dot of "Dr." and of initials ("G. Stanley Hall") from ending a sentence, treats a line break as a
sentence end (headings, list items, table cells), and lets bullets and opening quotes pass the start
on to the word after them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from .lexicon import ABBREVIATIONS, NAME_SAFE_STOP_WORDS, STOP_WORDS

_TOKEN = re.compile(
    # Addresses are neither names nor concepts (and e-mail addresses are personal data): one opaque token.
    # The local part is bounded and must start a run, so a long "a_a_a_..." cannot make this quadratic.
    r"(?P<address>(?:https?://|www\.)[^\s<>\"]+|(?<![\w.+-])[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63})+)"
    r"|(?P<abbr>(?:[^\W\d_]\.){2,})"  # U.S.  e.g.
    r"|(?P<num>\d+(?:[.,]\d+)+%?)"  # 1.355  1,000
    r"|(?P<word>[^\W_]+(?:[-\u2010\u2011&'\u2019][^\W_]+)*)"  # words, with inner hyphens, apostrophes, "&"
    r"|(?P<quote>``|''|[\"\u201c\u201d\u00ab\u00bb\u201e\u2018])"
    r"|(?P<hyphen>[-\u2010\u2011])"  # a free-standing hyphen ("person - centered" in scraped text)
    r"|(?P<stop>[.!?:;\u2026]+)"
    r"|(?P<newline>[\n\r\u2028\u2029])"
    r"|(?P<punct>[^\w\s])"
)
_POSSESSIVE_SUFFIX = ("'s", "\u2019s")
_COPULAS = frozenset({"is", "was", "are", "were"})


@dataclass(slots=True)
class Token:
    text: str
    kind: str  # word | abbr | num | quote | hyphen | stop | punct | address
    sentence_start: bool
    possessive: bool = False
    name: bool = False  # part of an accepted name span
    lower: str = ""
    capitalised: bool = False
    acronym: bool = False
    position: int = 0
    subject: bool = False  # followed by "is"/"was"/"(": the sentence is about this word


def tokenise(text: str) -> list[Token]:
    tokens: list[Token] = []
    sentence_start = True
    absorbed_dot = False
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup or "punct"
        value = match.group()
        if kind == "newline":
            sentence_start = True  # headings, list items and table cells end where their line ends
            continue
        if kind == "stop":
            # "Dr. Smith", "G. Stanley Hall": the dot after an abbreviation or an initial ends nothing.
            if absorbed_dot and value == ".":
                absorbed_dot = False
                continue
            tokens.append(Token(value, kind, sentence_start))
            sentence_start = value not in (";",)
            absorbed_dot = False
            continue
        absorbed_dot = False
        token = Token(value, kind, sentence_start)
        # A bullet, an opening quote or bracket does not use up the sentence start: "- Travel: ..."
        sentence_start = sentence_start and kind in ("quote", "hyphen", "punct")
        if kind == "word":
            if value.endswith(_POSSESSIVE_SUFFIX) and len(value) > 2:
                token.possessive = True
                value = value[:-2]
                token.text = value
            token.lower = value.casefold()
            first = value[0]
            # "iPhone", "eBay": a lower-case first letter with capitals after it is a name too.
            token.capitalised = first.isupper() or (first.islower() and not value.islower())
            token.acronym = value.isupper() and sum(1 for char in value if char.isupper()) >= 2
            if (len(value) == 1 and value.isupper()) or token.lower in ABBREVIATIONS:
                absorbed_dot = match.end() < len(text) and text[match.end()] == "."
        elif kind == "abbr":
            token.lower = value.casefold()
            token.acronym = value.replace(".", "").isupper()
            token.capitalised = value[0].isupper()
        tokens.append(token)
    for position, token in enumerate(tokens):
        token.position = position
        if position + 1 < len(tokens):
            following = tokens[position + 1]
            token.subject = following.text == "(" or following.lower in _COPULAS
    return tokens


def is_name_token(token: Token) -> bool:
    if token.kind == "abbr":
        return token.acronym
    if token.kind != "word" or not token.capitalised:
        return False
    if token.acronym:
        return True
    return token.lower not in STOP_WORDS or token.lower in NAME_SAFE_STOP_WORDS


def is_number(token: Token) -> bool:
    return token.kind in ("word", "num") and token.text[:1].isdigit()


def is_joiner(token: Token) -> bool:
    """A connector or conjunction inside a name span (the only non-capitalised words a span holds)."""
    return token.kind == "punct" or (token.kind == "word" and not token.capitalised and not is_number(token))


def span_text(span: Iterable[Token]) -> str:
    return " ".join(token.text for token in span if token.kind != "hyphen")
