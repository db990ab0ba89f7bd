"""Citation markers in answer text, sentences cut from a token stream, and the numbers users see.

Providers cite evidence passages as `[n]` (also `[1, 2]` and `[1][2]`). The answer is cut into
sentences as it streams, so each sentence can be verified before anyone sees it; the user-facing
numbers are assigned in order of first use (the first source cited is [1]).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from apps.answers.evidence.text import passage_excerpt, passage_label
from apps.integrations.llm.base import EvidencePassage
from apps.retrieval.search import RetrievedChunk

# Documents offered after a near miss (see CitationRegistry.related).
RELATED_DOCUMENTS = 2
MARKER = re.compile(r"\s?\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")
# A sentence is complete at . ! ? (plus the markers after it) once the next one has begun, or at a line break.
STREAM_BOUNDARY = re.compile(
    r"(?<=[.!?])((?:\s*\[\d{1,3}(?:\s*,\s*\d{1,3})*\])*)(\s+)(?=[\"'`\u201c\u2018(A-Z0-9*\u2022-])|\n+(?=\S)"
)


def cited_numbers(text: str) -> list[int]:
    numbers: list[int] = []
    for match in MARKER.finditer(text):
        numbers.extend(int(part) for part in match.group(1).split(","))
    return list(dict.fromkeys(numbers))


def without_markers(text: str) -> str:
    return MARKER.sub("", text).strip()


def markers_rewritten(text: str, mapping: dict[int, int]) -> str:
    """Markers renumbered through `mapping`; numbers not in it are removed (an empty marker disappears)."""

    def replace(match: re.Match[str]) -> str:
        kept = [mapping[int(part)] for part in match.group(1).split(",") if int(part) in mapping]
        return "".join(f" [{number}]" for number in dict.fromkeys(kept))

    return MARKER.sub(replace, text)


@dataclass(frozen=True)
class StreamedSentence:
    text: str
    separator: str  # what came before it in the stream: "" for the first, else " " or "\n"


class SentenceAssembler:
    """Collects text deltas and hands out complete sentences."""

    def __init__(self) -> None:
        self._buffer = ""
        self._separator = ""
        self._count = 0

    def feed(self, delta: str) -> list[StreamedSentence]:
        self._buffer += delta
        sentences: list[StreamedSentence] = []
        start = 0
        for match in STREAM_BOUNDARY.finditer(self._buffer):
            end = match.start() + len(match.group(1) or "")
            self._take(self._buffer[start:end], sentences)
            self._separator = "\n" if "\n" in match.group(0) else " "
            start = match.end()
        self._buffer = self._buffer[start:]
        return sentences

    def flush(self) -> list[StreamedSentence]:
        sentences: list[StreamedSentence] = []
        self._take(self._buffer, sentences)
        self._buffer = ""
        return sentences

    def _take(self, text: str, into: list[StreamedSentence]) -> None:
        if text.strip():
            into.append(StreamedSentence(text=text.strip(), separator=self._separator if self._count else ""))
            self._count += 1


class CitationRegistry:
    """Maps evidence numbers to the numbers shown, in order of first use, and builds citation records."""

    def __init__(
        self,
        *,
        passages: Iterable[EvidencePassage],
        chunks: dict[int, RetrievedChunk],
        shown: Callable[[str], str] = str,
    ) -> None:
        self._passages = {passage.number: passage for passage in passages}
        self._shown_text = shown  # the tenant's answer policy, applied before a label is cut short
        self._chunks = chunks
        self.shown: dict[int, int] = {}
        self.citations: list[dict] = []

    def register(self, evidence_numbers: Iterable[int]) -> list[dict]:
        """Citation records for numbers not cited before (the ones to announce now)."""
        new = []
        for number in evidence_numbers:
            if number in self.shown or number not in self._passages:
                continue
            self.shown[number] = len(self.shown) + 1
            passage = self._passages[number]
            chunk = self._chunks.get(number)
            title, text = self._shown_text(passage.title), self._shown_text(passage.text)
            citation = {
                "number": self.shown[number],
                "chunk_id": passage.chunk_id,
                "document_id": passage.document_id,
                "title": title,
                "section": passage_label(text, title=title),
                "excerpt": passage_excerpt(text),
                "source": self._shown_text(chunk.document_source) if chunk else "",
            }
            self.citations.append(citation)
            new.append(citation)
        return new

    def related(self, numbers: Iterable[int], *, limit: int = RELATED_DOCUMENTS) -> list[dict]:
        """Where to look when the evidence came close but did not answer: the passages `numbers`
        (each another document's closest, best first), by title and section only (no passage text:
        nothing here is offered as an answer). Every passage passed the user's permission check."""
        related: dict[int, dict] = {}
        for number in numbers:
            passage = self._passages.get(number)
            if passage is None or passage.document_id in related:
                continue
            if len(related) == limit:
                break
            title = self._shown_text(passage.title)
            related[passage.document_id] = {
                "chunk_id": passage.chunk_id,
                "document_id": passage.document_id,
                "title": title,
                "section": passage_label(self._shown_text(passage.text), title=title),
            }
        return list(related.values())
