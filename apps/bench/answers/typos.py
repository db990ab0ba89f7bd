"""Questions with one typo each, for measuring how answers hold up when people type fast.

Deterministic, so a figure can be re-measured: the question's longest word of at least five letters
that is no stop word and no name (capitalised inside the sentence) gets two middle letters swapped
("vacation" -> "vactaion") or one left out ("vacaion"). A question without such a word stays.
"""

from __future__ import annotations

import re
from dataclasses import replace

from apps.bench.retrieval.beir import BeirQuery
from apps.text.analyzer import STOP_WORDS

SWAP = "swap"
DROP = "drop"
TYPO_KINDS = (SWAP, DROP)
LETTERS = re.compile(r"[A-Za-z]+")
MIN_LETTERS = 5


def with_typo(text: str, kind: str) -> str:
    words = [
        match
        for match in LETTERS.finditer(text)
        if len(match.group(0)) >= MIN_LETTERS
        and match.group(0).casefold() not in STOP_WORDS
        and not (match.group(0)[0].isupper() and match.start() > 0)
    ]
    if not words:
        return text
    chosen = max(words, key=lambda match: (len(match.group(0)), -match.start()))
    word, middle = chosen.group(0), len(chosen.group(0)) // 2
    if kind == SWAP:
        typed = word[: middle - 1] + word[middle] + word[middle - 1] + word[middle + 1 :]
    elif kind == DROP:
        typed = word[:middle] + word[middle + 1 :]
    else:
        raise ValueError(f"unknown typo kind {kind!r}; choose from {TYPO_KINDS}")
    return text[: chosen.start()] + typed + text[chosen.end() :]


def queries_with_typos(queries: list[BeirQuery], kind: str) -> list[BeirQuery]:
    return [replace(query, text=with_typo(query.text, kind)) for query in queries]
