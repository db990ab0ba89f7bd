"""Sentences and terms: how passages and answers are cut and compared.

Passages arrive as chunk text (Markdown headings, lists, prose, sometimes tokenised Wikipedia text
with spaces around punctuation). Terms are the BM25 analyzer's (same stop words as retrieval),
Snowball-stemmed so "refunds" supports "refund" and "published" supports "publish".
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer

from apps.text.analyzer import analyze
from apps.text.questions import question_sentences

from .records import records_render

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
# A heading on the line right above its paragraph (plain text) is short.
MAX_PLAIN_HEADING_WORDS = 8
MAX_PLAIN_HEADING_CHARS = 60

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


# The analyzer cuts "isn't" into "isn" + "t" and "I'm" into "i" + "m": fragments nobody asks about
# that a sentence would still have to "cover". Spelled out first, they are stop words.
_IRREGULAR_NEGATION = re.compile(r"\b(can|won|shan)['\u2019]t\b", re.IGNORECASE)
_NEGATION = re.compile(r"n['\u2019]t\b", re.IGNORECASE)
_CLITIC = re.compile(r"['\u2019](s|m|re|ve|ll|d)\b", re.IGNORECASE)
_NEGATED_BASE = {"can": "can", "won": "will", "shan": "shall"}


def without_contractions(text: str) -> str:
    """ "isn't" -> "is not", "won't" -> "will not", "I'm" -> "I", "the company's" -> "the company"."""
    text = _IRREGULAR_NEGATION.sub(lambda match: _NEGATED_BASE[match.group(1).casefold()] + " not", text)
    return _CLITIC.sub("", _NEGATION.sub(" not", text))


def terms(text: str) -> list[str]:
    """Content terms, stemmed, in order (stop words removed by the retrieval analyzer)."""
    return [stem(word) for word in analyze(without_contractions(text))]


def term_set(text: str) -> frozenset[str]:
    return frozenset(terms(text))


# Words that frame a question rather than name what it is about: possibility and permission ("Is
# that possible?", "Am I allowed to..."), what may happen ("What happens if..."), the asker's own
# thinking ("if I think I got..."), light verbs and indefinite pronouns. A passage that answers
# the question rarely repeats them, so they count neither in a sentence's coverage of the question
# nor as content of a question sentence of their own. A closed list from English grammar, not
# fitted on any question set.
QUESTION_FRAME_WORDS = frozenset(
    """
    possible possibly allowed allow permitted able need needs happen happens happened think guess
    suppose wonder know get gets got getting anyone anybody someone somebody anything something
    please exactly actually really also ok okay
    """.split()  # noqa: SIM905 - a word list reads better than quoted strings
)
_FRAME_STEMS = frozenset(stem(word) for word in QUESTION_FRAME_WORDS)


def question_terms(question: str) -> frozenset[str]:
    """The question's content terms, without the words that only frame it."""
    return frozenset(term for term in terms(question) if term not in _FRAME_STEMS)


def question_focus(question: str) -> str | None:
    """The final sentence of a question that first describes a situation ("I am a guardian of a
    16-year-old. Can I change his surname?"): what is asked, without the story. None for one
    sentence, and for a final sentence without a content word of its own ("Someone stole my laptop
    on the train. What should I do?", "... Is that possible?"), which asks about the story itself."""
    parts = question_sentences(question)
    return parts[-1] if len(parts) > 1 and question_terms(parts[-1]) else None


def numbers_in(text: str) -> set[str]:
    """Numbers written with digits, normalised ("5,000" and "5000" are one number)."""
    return {match.replace(",", "").rstrip(".") for match in NUMBER.findall(text)}


def split_sentences(text: str) -> list[str]:
    """Prose sentences and records of a passage; headings are left out (they are context, not claims)."""
    return passage_parts(text)[1]


def headings_of(text: str) -> list[str]:
    return passage_parts(text)[0]


@dataclass(frozen=True)
class PassageUnit:
    """A sentence (or a rendered record) of a passage, with the heading of the section it stands in."""

    text: str
    heading: str = ""
    record: bool = False  # a row of a table or an object of a JSON document, rendered as a sentence


def passage_parts(text: str) -> tuple[list[str], list[str]]:
    """(headings, sentences)."""
    headings, units = passage_units(text)
    return headings, [unit.text for unit in units]


def passage_units(text: str) -> tuple[list[str], list[PassageUnit]]:
    """(headings, sentences with their section heading). A short line standing alone without end
    punctuation is a heading too: the chunker keeps a Markdown title as a plain first line
    ("Refund policy\\n\\nCustomers may..."), and plain text puts a heading on the line above its
    paragraph ("Day one\\nCollect your laptop ...")."""
    headings: list[str] = []
    units: list[PassageUnit] = []
    for paragraph in _paragraphs(text):
        if paragraph.kind == "heading" or (
            paragraph.kind == "prose"
            and len(paragraph.text.split()) <= MAX_HEADING_WORDS
            and not paragraph.text.endswith(END_PUNCTUATION)
        ):
            headings.append(paragraph.text)
            continue
        heading = headings[-1] if headings else ""
        if paragraph.kind == "record":
            units.append(PassageUnit(paragraph.text[:MAX_SENTENCE_CHARS], heading, record=True))
            continue
        for sentence in split_paragraph(paragraph.text):
            if len(sentence.split()) >= MIN_SENTENCE_WORDS:
                units.append(PassageUnit(sentence[:MAX_SENTENCE_CHARS], heading))
    return headings, units


def split_paragraph(paragraph: str) -> list[str]:
    pieces: list[str] = []
    start = 0
    for match in SENTENCE_BOUNDARY.finditer(paragraph):
        pieces.append(paragraph[start : match.start()] + match.group(1))
        start = match.end()
    pieces.append(paragraph[start:])
    return [piece.strip() for piece in pieces if piece.strip()]


@dataclass(frozen=True)
class _Paragraph:
    text: str
    kind: str  # prose | item | heading | record


def _paragraphs(text: str) -> list[_Paragraph]:
    """Blank lines and Markdown headings end a block. A block of records (CSV rows, JSON leaves)
    gives one paragraph per record; otherwise list items and a plain heading line end a paragraph
    and wrapped lines are joined."""
    paragraphs: list[_Paragraph] = []
    block: list[str] = []
    for line in [*text.splitlines(), ""]:
        heading = HEADING.match(line)
        if line.strip() and not heading:
            block.append(line)
            continue
        paragraphs.extend(_block_paragraphs(block))
        block = []
        if heading:
            paragraphs.append(_Paragraph(heading.group(1).strip(), "heading"))
    return paragraphs


def _block_paragraphs(lines: list[str]) -> list[_Paragraph]:
    records = records_render(lines)
    if records is not None:
        return [_Paragraph(record, "record") for record in records]
    paragraphs: list[_Paragraph] = []
    current: list[str] = []
    kind = "prose"
    for position, line in enumerate(lines):
        if LIST_MARKER.match(line):
            if current:
                paragraphs.append(_Paragraph(" ".join(current), kind))
            current, kind = [LIST_MARKER.sub("", line).strip()], "item"
        elif (not current or current[-1].endswith(END_PUNCTUATION)) and _heads_next_line(
            line, lines[position + 1 : position + 2]
        ):
            if current:
                paragraphs.append(_Paragraph(" ".join(current), kind))
            current, kind = [], "prose"
            paragraphs.append(_Paragraph(line.strip(), "heading"))
        else:
            current.append(line.strip())
    if current:
        paragraphs.append(_Paragraph(" ".join(current), kind))
    return paragraphs


def _heads_next_line(line: str, following: list[str]) -> bool:
    """A short first line without end punctuation, followed by a line that starts a sentence."""
    text = line.strip()
    return (
        bool(following)
        and len(text.split()) <= MAX_PLAIN_HEADING_WORDS
        and len(text) <= MAX_PLAIN_HEADING_CHARS
        and not text.endswith(END_PUNCTUATION)
        and following[0].strip()[:1].isupper()
    )


LABEL_WORDS = 8


def passage_label(text: str, *, title: str = "") -> str:
    """Which part of its document a passage is: its section heading ("Eligibility"), or, without one
    that says more than the title, its first words ("Customers may request a full refund within…")."""
    headings, units = passage_units(text)
    for heading in headings:
        section = heading.rsplit(" > ", 1)[-1].strip()
        if section and section.casefold() != title.strip().casefold():
            return section
    if units and units[0].record:
        return ""  # rows of a table: the first row would name the wrong one; the title says enough
    first = units[0].text if units else " ".join(text.split())
    words = first.split()
    return " ".join(words[:LABEL_WORDS]) + ("…" if len(words) > LABEL_WORDS else "")


EXCERPT_CHARS = 1200


def passage_excerpt(text: str) -> str:
    """The cited passage as a reader sees it inline under the answer: its sentences and records, without
    the chunker's heading path, cut at a sentence end near EXCERPT_CHARS."""
    _, units = passage_units(text)
    excerpt = ""
    for unit in units:
        if excerpt and len(excerpt) + len(unit.text) > EXCERPT_CHARS:
            return excerpt + " …"
        excerpt = f"{excerpt} {unit.text}".strip()
    return excerpt or " ".join(text.split())[:EXCERPT_CHARS]
