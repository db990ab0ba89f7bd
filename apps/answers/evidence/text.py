"""Sentences and terms: how passages and answers are cut and compared.

Passages arrive as chunk text (Markdown headings, lists, prose, sometimes tokenised Wikipedia text
with spaces around punctuation). Terms are the BM25 analyzer's (same stop words as retrieval),
Snowball-stemmed so "refunds" supports "refund" and "published" supports "publish".
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache

import snowballstemmer

from apps.integrations.keyword.analyzer import analyze

# A sentence ends at . ! ? (plus any citation markers right after it) when the next one starts
# with a capital, a digit, a quote or a bracket; "e.g. the" and "3.5 days" are not boundaries.
SENTENCE_BOUNDARY = re.compile(r"(?<=[.!?])((?:\s*\[\d+(?:\s*,\s*\d+)*\])*)\s+(?=[\"'`\u201c\u2018(\[A-Z0-9])")
HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*)$")
LIST_MARKER = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)])\s+")
NUMBER = re.compile(r"(?<![\w.])\d[\d,.]*\d|(?<![\w.])\d")
MIN_SENTENCE_WORDS = 3
MAX_SENTENCE_CHARS = 600
MAX_HEADING_WORDS = 12
END_PUNCTUATION = (".", "!", "?", ":", ";", '"', "\u201d")
_HEADING_MARK = "\x00"

# A Snowball stemmer keeps the word it is working on in the instance: two threads sharing one
# corrupted each other's words (an IndexError inside stemWord under concurrent answers), so every
# thread gets its own.
_stemmers = threading.local()


def _thread_stemmer() -> snowballstemmer.stemmer:
    stemmer = getattr(_stemmers, "english", None)
    if stemmer is None:
        stemmer = _stemmers.english = snowballstemmer.stemmer("english")
    return stemmer


@lru_cache(maxsize=65_536)
def stem(word: str) -> str:
    return _thread_stemmer().stemWord(word)


def terms(text: str) -> list[str]:
    """Content terms, stemmed, in order (stop words removed by the retrieval analyzer)."""
    return [stem(word) for word in analyze(text)]


def term_set(text: str) -> frozenset[str]:
    return frozenset(terms(text))


def numbers_in(text: str) -> set[str]:
    """Numbers written with digits, normalised ("5,000" and "5000" are one number)."""
    return {match.replace(",", "").rstrip(".") for match in NUMBER.findall(text)}


def split_sentences(text: str) -> list[str]:
    """Prose sentences of a passage; headings are left out (they are context, not claims)."""
    return passage_parts(text)[1]


def headings_of(text: str) -> list[str]:
    return passage_parts(text)[0]


def passage_parts(text: str) -> tuple[list[str], list[str]]:
    """(headings, sentences). A short line standing alone without end punctuation is a heading too:
    the chunker keeps a Markdown title as a plain first line ("Refund policy\\n\\nCustomers may...")."""
    headings: list[str] = []
    sentences: list[str] = []
    for paragraph, is_item in _paragraphs(text):
        if paragraph.startswith(_HEADING_MARK):
            headings.append(paragraph[1:])
            continue
        if not is_item and len(paragraph.split()) <= MAX_HEADING_WORDS and not paragraph.endswith(END_PUNCTUATION):
            headings.append(paragraph)
            continue
        for sentence in split_paragraph(paragraph):
            if len(sentence.split()) >= MIN_SENTENCE_WORDS:
                sentences.append(sentence[:MAX_SENTENCE_CHARS])
    return headings, sentences


def split_paragraph(paragraph: str) -> list[str]:
    pieces: list[str] = []
    start = 0
    for match in SENTENCE_BOUNDARY.finditer(paragraph):
        pieces.append(paragraph[start : match.start()] + match.group(1))
        start = match.end()
    pieces.append(paragraph[start:])
    return [piece.strip() for piece in pieces if piece.strip()]


def _paragraphs(text: str) -> list[tuple[str, bool]]:
    """(paragraph, is_list_item): blank lines, headings and list items end a paragraph; wrapped lines
    are joined. Markdown headings come back marked so they are never taken for prose."""
    paragraphs: list[tuple[str, bool]] = []
    current: list[str] = []
    is_item = False
    for line in text.splitlines():
        heading = HEADING.match(line)
        starts_item = bool(LIST_MARKER.match(line))
        if not line.strip() or heading or starts_item:
            if current:
                paragraphs.append((" ".join(current), is_item))
            current, is_item = [], False
            if heading:
                paragraphs.append((_HEADING_MARK + heading.group(1).strip(), False))
            elif starts_item:
                current, is_item = [LIST_MARKER.sub("", line).strip()], True
            continue
        current.append(line.strip())
    if current:
        paragraphs.append((" ".join(current), is_item))
    return paragraphs
