"""Typos in a question, corrected to the words of the documents the asker may view.

"whats the hotle limit in berlin" finds little by its words: no passage says "hotle", and the
answers' evidence check reads the question's terms. A word is taken for a typo only when all of
these hold: it has at least five letters; it is no part of a hyphenated compound or a code
("avant-garde", "covid19"); it is not capitalised inside its sentence (a name: "Gmail", "Bixby");
neither the documents the asker may view nor an English word list (pyspellchecker's, shipped in its
wheel) knows it. It is replaced by the document word one edit away (a letter deleted, inserted or
replaced, or two neighbours swapped: Damerau-Levenshtein distance 1) with the same first letter that
the most passages use; with none, it stays. A real English word the documents do not use ("mine",
"hope") is never changed, so a question about something the documents lack is not turned into one
about something they have. A contraction typed without its apostrophe ("whats", "dont") gets it back.
A question whose words are mostly unknown to English is left as it is: it is in another language,
and the word list is English.

The documents' words come from the caller's `passages_using` (term -> how many passages the asker
may view use it), so a word found only in a document the asker may not open is never suggested.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from functools import cache

from spellchecker import SpellChecker

from .analyzer import STOP_WORDS

# At most this many words of one question are looked up (each with ~300 candidates): a question of
# 2,000 characters could otherwise send tens of thousands of lookups in one query.
MAX_SUSPECTS = 8
MIN_TYPO_LETTERS = 5  # a four-letter word one edit from another is as often a lower-cased name ("junu")
# Letters only: "docter's" is the word "docter" and a clitic; a word with a digit is no typo.
WORD = re.compile(r"[^\W\d_]+")
# Contractions typed without their apostrophe ("whats", "dont"): given it back, so they read as the
# stop words they are instead of as terms a passage must cover (or typos of "font"). Not those that are
# words too ("ill", "wed", "lets", "id", "wont", "hes").
_NEGATIONS = "dont doesnt didnt cant couldnt wouldnt shouldnt isnt arent wasnt werent havent hasnt hadnt mustnt"
APOSTROPHE_LESS = {word: f"{word[:-1]}'t" for word in _NEGATIONS.split()} | {
    "im": "i'm",
    "ive": "i've",
    "youre": "you're",
    "youve": "you've",
    "youll": "you'll",
    "youd": "you'd",
    "thats": "that's",
    "whats": "what's",
    "whos": "who's",
    "wheres": "where's",
    "hows": "how's",
    "theres": "there's",
    "theyre": "they're",
    "theyve": "they've",
    "weve": "we've",
}
SENTENCE_START = re.compile(r"(?:^|[.!?:;]\s+|\n)\s*[\"'(\[]*$")

PassagesUsing = Callable[[Collection[str]], Mapping[str, int]]


@dataclass(frozen=True)
class SpellingCorrection:
    text: str
    replaced: dict[str, str] = field(default_factory=dict)  # typo (as typed, lower-cased) -> document word


@cache
def english_words() -> SpellChecker:
    """pyspellchecker's English word list, loaded once per process (0.4 s, ~35 MB)."""
    return SpellChecker(language="en", distance=1)


def spelling_corrected(question: str, *, passages_using: PassagesUsing) -> SpellingCorrection:
    """The question with each typo replaced by the closest word of the documents; unchanged when none."""
    replaced = {word.casefold(): APOSTROPHE_LESS[word.casefold()] for word in apostrophes_missing(question)}
    suspects = {word.casefold() for word in typo_suspects(question)[:MAX_SUSPECTS]}
    if not suspects:
        return _corrected(question, replaced)
    candidates = {suspect: one_edit_away(suspect) for suspect in suspects}
    used = passages_using(suspects | {candidate for found in candidates.values() for candidate in found})
    for suspect in sorted(suspects):
        if used.get(suspect):
            continue  # the documents use it: no typo
        # Typists rarely miss a word's first letter; a first letter changed turned "yatch" into
        # "match" and "reregister" into "deregister".
        known = [candidate for candidate in candidates[suspect] if used.get(candidate) and candidate[0] == suspect[0]]
        if known:
            replaced[suspect] = max(known, key=lambda word: (used[word], _english_count(word), word))
    return _corrected(question, replaced)


def apostrophes_missing(question: str) -> list[str]:
    """The contractions of a question typed without their apostrophe ("whats", "dont")."""
    return [match.group(0) for match in WORD.finditer(question) if match.group(0).casefold() in APOSTROPHE_LESS]


def _corrected(question: str, replaced: dict[str, str]) -> SpellingCorrection:
    if not replaced:
        return SpellingCorrection(text=question)
    return SpellingCorrection(text=words_replaced(question, replaced), replaced=replaced)


def typo_suspects(question: str) -> list[str]:
    """The words of a question that may be typos, before asking the documents: long enough, no name,
    no contraction, no stop word, unknown to the English word list."""
    suspects = []
    question = unicodedata.normalize("NFKC", question)
    if not _reads_as_english(question):
        return []
    for match in WORD.finditer(question):
        word = match.group(0)
        lowered = word.casefold()
        if len(word) < MIN_TYPO_LETTERS or lowered in STOP_WORDS or lowered in APOSTROPHE_LESS:
            continue
        if word[0].isupper() and not SENTENCE_START.search(question[: match.start()]):
            continue  # capitalised inside a sentence: a name
        if _joined(question, match):
            continue  # a part of a compound ("avant-garde") or a code ("covid19"): not a word of its own
        if _english_count(lowered) == 0:
            suspects.append(word)
    return suspects


def _joined(question: str, match: re.Match[str]) -> bool:
    before = question[match.start() - 1] if match.start() else " "
    after = question[match.end()] if match.end() < len(question) else " "
    return any(character == "-" or character == "_" or character.isdigit() for character in (before, after))


def _reads_as_english(question: str) -> bool:
    """Whether at least half of the question's words are English ones: a question in another language ("Wie
    viele Urlaubstage habe ich?") is not corrected into English ("viele" is one edit from "view")."""
    words = [word.casefold() for word in WORD.findall(question) if len(word) > 1]
    return sum(word in STOP_WORDS or _english_count(word) > 0 for word in words) * 2 >= len(words)


def one_edit_away(word: str) -> set[str]:
    """Every string one deletion, transposition, replacement or insertion away from `word`."""
    letters = set(string.ascii_lowercase) | set(word)
    splits = [(word[:cut], word[cut:]) for cut in range(len(word) + 1)]
    deletes = {left + right[1:] for left, right in splits if right}
    swaps = {left + right[1] + right[0] + right[2:] for left, right in splits if len(right) > 1}
    replaces = {left + letter + right[1:] for left, right in splits if right for letter in letters}
    inserts = {left + letter + right for left, right in splits for letter in letters}
    return (deletes | swaps | replaces | inserts) - {word}


def _english_count(word: str) -> int:
    return int(english_words().word_frequency[word])


def words_replaced(question: str, replaced: Mapping[str, str]) -> str:
    """The text with each word `replaced` names (lower-cased) replaced, its first capital kept."""

    def replacement(match: re.Match[str]) -> str:
        word = match.group(0)
        found = replaced.get(word.casefold())
        if found is None:
            return word
        return found.capitalize() if word[0].isupper() else found

    return WORD.sub(replacement, question)
