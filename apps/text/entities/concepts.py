"""Concept phrases: runs of lower-case content words, cut where a verb, adverb or participle starts.

No part-of-speech tagger: English noun phrases end in their head, so the caller takes the last one to
three words of a run, and these rules keep verbs and adverbs out of the runs.
"""

from __future__ import annotations

from .lexicon import ED_NOUNS, SENTENCE_IMPERATIVES, STOP_WORDS, VERBS
from .tokens import Token

_NOT_ADVERBS = frozenset({"family", "supply", "assembly", "anomaly", "monopoly", "rally", "ally", "reply", "italy"})


def is_concept_word(token: Token) -> bool:
    if token.kind != "word" or token.name:
        return False
    lower = token.lower
    if len(lower) < 2 or lower in STOP_WORDS or lower in VERBS:
        return False
    if token.sentence_start and lower in SENTENCE_IMPERATIVES:
        return False
    if not lower.replace("-", "").isalpha():
        return False  # numbers, contractions ("don't"), codes
    if token.capitalised and not (token.sentence_start and token.text[1:].islower()):
        return False  # names that did not make it (lone letters, months) are not concepts either
    return not (lower.endswith("ly") and len(lower) > 5 and lower not in _NOT_ADVERBS)


def is_participle(lower: str) -> bool:
    return lower.endswith("ed") and len(lower) > 4 and lower not in ED_NOUNS


def concept_runs(tokens: list[Token]) -> list[list[Token]]:
    runs: list[list[Token]] = []
    current: list[Token] = []
    glued = False
    for index, token in enumerate(tokens):
        if token.sentence_start and current:
            runs.append(current)
            current = []
        if token.kind == "hyphen" and current and index + 1 < len(tokens) and is_concept_word(tokens[index + 1]):
            glued = True
            continue
        if not is_concept_word(token):
            glued = False
            if current:
                runs.append(current)
                current = []
            continue
        # A participle after a noun starts a new phrase ("journal | published papers"),
        # unless a hyphen glued it ("person - centered therapy").
        if current and is_participle(token.lower) and not glued:
            runs.append(current)
            current = []
        current.append(token)
        glued = False
        if token.possessive:
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    return runs
