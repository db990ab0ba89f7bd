"""Names in token streams: capitalised runs with inner connectors, trimmed, validated, and their shorter forms."""

from __future__ import annotations

from .lexicon import (
    HONORIFICS,
    MONTHS_AND_DAYS,
    NAME_CONJUNCTIONS,
    NAME_CONNECTORS,
    NAME_HEADS,
    NAME_SAFE_STOP_WORDS,
    NAME_TITLES,
    NOT_NAMES_ALONE,
    ROMAN_NUMERALS,
    SENTENCE_IMPERATIVES,
    STOP_WORDS,
)
from .tokens import Token, is_joiner, is_name_token, is_number

# Longer capitalised runs are headings and table rows, not names.
MAX_NAME_TOKENS = 8


def name_spans(tokens: list[Token]) -> list[list[Token]]:
    """Maximal runs of name tokens, with connectors kept only between two name tokens."""
    spans: list[list[Token]] = []
    current: list[Token] = []
    pending: list[Token] = []

    def close() -> None:
        nonlocal current, pending
        if current:
            spans.append(current)
        current, pending = [], []

    for token in tokens:
        if token.sentence_start:
            close()
        if is_name_token(token):
            if token.capitalised and token.lower in STOP_WORDS and token.lower not in NAME_SAFE_STOP_WORDS:
                close()
                continue
            if token.sentence_start and token.lower in SENTENCE_IMPERATIVES and not token.acronym:
                continue
            if current and is_number(current[-1]) and len(current[-1].text) >= 4:
                close()  # "... Mushing 1972 Colorado Pack ...": a year between names is a table, not a name
            current.extend(pending)
            pending = []
            current.append(token)
            if token.possessive:
                close()
            continue
        if current and is_number(token) and not pending:
            current.append(token)  # "Apollo 11", "Boeing B-29 Superfortress"
            continue
        is_joiner = token.lower in NAME_CONNECTORS or token.lower in NAME_CONJUNCTIONS or token.text == "&"
        if current and token.kind in ("word", "punct") and is_joiner and len(pending) < 3:
            pending.append(token)
            continue
        if current and token.kind == "hyphen" and not pending:
            continue  # "Boeing B - 29": a free-standing hyphen inside a name joins, it does not split
        close()
    close()
    return spans


def trim_span(span: list[Token]) -> list[Token]:
    """Drop what does not belong to a name at its edges: titles, leading numbers, dates."""
    while True:
        before = len(span)
        while span and (is_joiner(span[0]) or is_number(span[0])):
            span = span[1:]  # "1920 Summer Olympics" -> "Summer Olympics"; a year alone links nothing
        while span and (is_joiner(span[-1]) or (is_number(span[-1]) and len(span[-1].text) >= 4 and len(span) == 1)):
            span = span[:-1]
        if len(span) >= 2 and span[0].lower in HONORIFICS:
            span = span[1:]  # "Dr. Jane Smith" and "Jane Smith" are one person
        if span and span[0].lower in MONTHS_AND_DAYS:
            span = span[1:]  # "On 6 April the Committee of Public Safety"
        if len(span) >= 2 and is_number(span[-1]) and span[-2].lower in MONTHS_AND_DAYS:
            span = span[:-1]  # "captured Beijing on June 6"
        if span and span[-1].lower in MONTHS_AND_DAYS:
            span = span[:-1]
        if len(span) == before:
            return span


def split_conjunctions(span: list[Token]) -> list[list[Token]]:
    pieces: list[list[Token]] = [[]]
    for token in span:
        if is_joiner(token) and (token.lower or token.text) in NAME_CONJUNCTIONS:
            pieces.append([])
        else:
            pieces[-1].append(token)
    return [piece for piece in pieces if piece]


def valid_name(span: list[Token], *, capitalised_elsewhere: set[str]) -> bool:
    if not span or len(span) > MAX_NAME_TOKENS:
        return False  # very long capitalised runs are headings and table rows, not names
    if len(span) > 1:
        return True
    token = span[0]
    if token.kind == "word" and len(token.text) == 1:
        return False
    if token.lower in NOT_NAMES_ALONE:
        return False
    plain_word = not token.acronym and token.text[:1].isupper() and token.text[1:].islower()
    if token.sentence_start and plain_word and token.lower not in capitalised_elsewhere:
        # "Refunds are ...": an ordinary word opening a sentence, left to the concept pass. Unless the
        # sentence is about it: "Brand is a play by Henrik Ibsen", "Decade is a compilation album".
        return token.subject
    return True


def name_variants(span: list[Token]) -> list[list[Token]]:
    """Shorter names a long name is also known by, so questions that use them still meet it.

    "Siege of Cassel" -> "Cassel"; "University of Texas" -> "Texas" (the head before "of" is too
    generic alone); "Theodore Roosevelt National Park" -> "Theodore Roosevelt"; "Greenfield-Central
    High School" -> "Greenfield-Central", "Greenfield-Central High"; "Jonathan Douglass Reid" and
    "Hyman B. Samuels" -> "Jonathan Reid", "Hyman Samuels".
    """
    if any(is_joiner(token) for token in span):
        current: list[Token] = []
        after_of = False
        for token in span:
            if is_joiner(token) and token.lower in ("of", "on", "for"):
                current, after_of = [], True
            elif not (is_joiner(token) and token.lower == "the" and not current):
                current.append(token)  # "da", "van", "de" belong to a personal name
        return [current] if after_of and current else []
    words = [token for token in span if token.kind != "hyphen"]
    if len(words) < 3 or not all(token.kind == "word" and token.capitalised for token in words):
        return []
    last = words[-1].lower
    if last in NAME_HEADS:
        variants: list[list[Token]] = [words[:2]] if len(words[1].text) > 1 else []
        if len(words) >= 4 and words[-2].lower not in NAME_HEADS:
            variants.append(words[:-1])
        return variants
    if (
        len(words) == 3
        and words[0].lower not in NAME_TITLES
        and len(words[0].text) > 1
        and len(words[2].text) > 1
        and last not in ROMAN_NUMERALS
    ):
        return [[words[0], words[2]]]
    return []
