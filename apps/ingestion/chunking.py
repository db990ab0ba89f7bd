"""Split a ParsedDocument into embeddable chunks that follow its sections and cite char offsets.

A chunk never spans a heading: each section (the blocks under one heading) is packed on its own,
consecutive blocks together up to the token limit. A block too long for one chunk is split at
sentence ends, then line breaks, then spaces, and only as a last resort inside a word. The next
chunk of the same section starts with the last ~overlap_tokens of the previous one.

`ChunkDraft.body` is always `document.text[char_start:char_end]`; `ChunkDraft.text` is what gets
embedded: the body under a compact heading breadcrumb ("Policies > Refunds"), and `token_count`
and `max_tokens` apply to it.
"""

from __future__ import annotations

import bisect
import functools
import re
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from apps.ingestion.parsing import BLOCK_SEPARATOR, ParsedDocument

TokenCounter = Callable[[str], int]
# Character spans of the tokens a TokenCounter counts in a text (the embedder's tokenizer offsets).
TokenSpans = Callable[[str], list[tuple[int, int]]]
BREADCRUMB_SEPARATOR = " > "
MAX_BREADCRUMB_SHARE = 4  # a breadcrumb may take at most 1/4 of the token budget
HARD_SPLIT_CHARS_PER_TOKEN = 16  # first guess at a piece's length when a "word" has to be cut
# A chunk is never longer than this many characters per token of its budget, whatever the tokenizer
# counts: BERT's tokenizer counts a "word" of 10 million characters as one [UNK] token, and such a
# file became one 10 MB chunk.
MAX_CHARS_PER_TOKEN = 16
COUNT_CACHE_SIZE = 65_536  # token counts remembered while one document is chunked

# Sentence ends: . ! ? (optionally closed by a quote or bracket) before whitespace; CJK full stops
# (\u3002 \uff01 \uff1f) need no whitespace after them.
_SENTENCE_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"'\u201d\u2019)\]]))\s+|(?<=[\u3002\uff01\uff1f])\s*")
_BLANK_LINE = re.compile(r"\n\s*\n")
_LINE_BREAK = re.compile(r"\n")
_WHITESPACE = re.compile(r"\s+")
_WORD = re.compile(r"\S+")
# Prose splits at sentences first; lists, tables and code at lines (their "sentences" are lines).
_SEPARATORS = {
    "paragraph": (_BLANK_LINE, _SENTENCE_END, _LINE_BREAK, _WHITESPACE),
    "other": (_BLANK_LINE, _LINE_BREAK, _WHITESPACE),
}
_APPROXIMATE_TOKEN = re.compile(
    r"(?P<cjk>[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff])"
    r"|(?P<word>[^\W\d_]+)|(?P<number>\d+)|(?P<symbol>[^\w\s]|_)"
)


@dataclass(frozen=True)
class ChunkDraft:
    text: str  # embedded text: breadcrumb + body
    ordinal: int
    heading_path: list[str]
    char_start: int  # into document.text; document.text[char_start:char_end] == body
    char_end: int
    token_count: int  # count_tokens(text)
    body: str


@dataclass(frozen=True)
class _Section:
    heading_path: list[str]
    spans: list[tuple[int, int, str]]  # (start, end, block kind) in document.text


def approximate_token_count(text: str) -> int:
    """A WordPiece-like estimate: one token per CJK character and per symbol, one per short word
    or number, more for long ones (WordPiece splits rare long words and digit runs)."""
    total = 0
    for match in _APPROXIMATE_TOKEN.finditer(text):
        length = match.end() - match.start()
        if match.lastgroup == "word":
            total += 1 + (length - 1) // 8
        elif match.lastgroup == "number":
            total += 1 + (length - 1) // 3
        else:
            total += 1
    return total


def chunk_document(
    *,
    document: ParsedDocument,
    max_tokens: int,
    overlap_tokens: int,
    count_tokens: TokenCounter | None = None,
    token_spans: TokenSpans | None = None,
) -> list[ChunkDraft]:
    """`token_spans`, when the counter's tokenizer offers it, tokenizes the document once: the cost of
    a piece cut at word boundaries is then the number of tokens inside it (tokenizers that split on
    whitespace and punctuation first, like BERT's, give exactly what counting the piece would). The
    finished chunks are still counted for real, so an estimate can never let a chunk over the limit.
    """
    if max_tokens < 1 or not 0 <= overlap_tokens < max_tokens:
        raise ValueError("need max_tokens >= 1 and 0 <= overlap_tokens < max_tokens")
    # The packer counts the same words and sentences over and over (every trailing word for the overlap,
    # every word of a run-on paragraph whose sentences have no space after the full stop); remembering
    # them made chunking SciFact 3.7x faster. Bounded, so a huge document cannot grow it without limit.
    count = functools.lru_cache(maxsize=COUNT_CACHE_SIZE)(count_tokens or approximate_token_count)
    text = document.text
    index = _TokenIndex.of(text, token_spans) if token_spans is not None else None
    drafts: list[ChunkDraft] = []
    for section in _sections(document):
        breadcrumb = _breadcrumb(section.heading_path, max_tokens=max_tokens, count=count)
        packer = _SectionPacker(
            text=text, prefix=breadcrumb, max_tokens=max_tokens, overlap=overlap_tokens, count=count, index=index
        )
        for start, end in packer.chunk_spans(section.spans):
            embedded = packer.prefix + text[start:end]
            drafts.append(
                ChunkDraft(
                    text=embedded,
                    ordinal=len(drafts),
                    heading_path=list(section.heading_path),
                    char_start=start,
                    char_end=end,
                    token_count=count(embedded),
                    body=text[start:end],
                )
            )
    return drafts


def _sections(document: ParsedDocument) -> Iterator[_Section]:
    """Blocks grouped under their heading path; a heading starts a new section."""
    blocks_and_spans = list(zip(document.blocks, document.block_spans, strict=True))
    if all(block.kind == "heading" for block in document.blocks):  # only headings: they are the content
        yield _Section(heading_path=[], spans=[(start, end, "paragraph") for _, (start, end) in blocks_and_spans])
        return
    path: list[tuple[int, str]] = []
    spans: list[tuple[int, int, str]] = []
    for block, (start, end) in blocks_and_spans:
        if block.kind != "heading":
            spans.append((start, end, block.kind))
            continue
        if spans:
            yield _Section(heading_path=[heading for _, heading in path], spans=spans)
            spans = []
        path = [(level, heading) for level, heading in path if level < block.level] + [(block.level, block.text)]
    if spans:
        yield _Section(heading_path=[heading for _, heading in path], spans=spans)


def _breadcrumb(heading_path: list[str], *, max_tokens: int, count: TokenCounter) -> str:
    """The full path if it is short, else the nearest heading alone, else nothing."""
    allowance = max_tokens // MAX_BREADCRUMB_SHARE
    for candidate in (BREADCRUMB_SEPARATOR.join(heading_path), heading_path[-1] if heading_path else ""):
        if candidate and count(candidate) <= allowance:
            return candidate
    return ""


class _TokenIndex:
    """How many of a text's tokens lie wholly inside a character range, by bisection.

    Built window by window (cut at whitespace, where a BERT-style tokenizer splits anyway) into
    compact arrays: tokenizing a 10 MB text at once held ~2 GB (the tokenizer's alignments, then a
    Python tuple per token); a window of WINDOW_CHARS holds a few MB whatever the document's size.
    """

    WINDOW_CHARS = 65_536

    def __init__(self) -> None:
        self.starts = array("q")
        self.ends = array("q")

    @classmethod
    def of(cls, text: str, token_spans: TokenSpans) -> _TokenIndex:
        index = cls()
        for window_start, window_end in _windows(text, cls.WINDOW_CHARS):
            for start, end in token_spans(text[window_start:window_end]):
                index.starts.append(window_start + start)
                index.ends.append(window_start + end)
        return index

    def tokens_within(self, start: int, end: int) -> int:
        return max(0, bisect.bisect_right(self.ends, end) - bisect.bisect_left(self.starts, start))


def _length_cost(characters: int) -> int:
    """The fewest tokens a piece this long is charged (MAX_CHARS_PER_TOKEN)."""
    return -(-characters // MAX_CHARS_PER_TOKEN)


def _windows(text: str, size: int) -> Iterator[tuple[int, int]]:
    """Consecutive ranges of about `size` characters covering `text`, each ending at whitespace
    when there is any in its last quarter (a run without any is cut where it is)."""
    start = 0
    while start < len(text):
        end = min(len(text), start + size)
        if end < len(text):
            cut = max(text.rfind(" ", end - size // 4, end), text.rfind("\n", end - size // 4, end))
            end = cut + 1 if cut > start else end
        yield start, end
        start = end


class _SectionPacker:
    """Cuts one section into pieces that fit, then packs consecutive pieces into chunks.

    Piece costs are counted once and added up (the count of "" is subtracted, for tokenizers that
    add special tokens to every call); each finished chunk is then counted for real and trimmed
    if the sum was optimistic.
    """

    def __init__(
        self, *, text: str, prefix: str, max_tokens: int, overlap: int, count: TokenCounter, index: _TokenIndex | None
    ) -> None:
        self.text = text
        self.index = index
        self.prefix = prefix + BLOCK_SEPARATOR if prefix else ""
        self.max_tokens = max_tokens
        self.overlap = overlap
        self.count = count
        self.overhead = count("")
        self.budget = max(1, max_tokens - count(self.prefix))

    def chunk_spans(self, block_spans: list[tuple[int, int, str]]) -> list[tuple[int, int]]:
        pieces = [
            piece
            for start, end, kind in block_spans
            for piece in self._split(start, end, _SEPARATORS.get(kind, _SEPARATORS["other"]), budget=self.budget)
        ]
        return self._pack(pieces)

    def _cost(self, start: int, end: int) -> int:
        if self.index is not None:
            return max(self.index.tokens_within(start, end), _length_cost(end - start))
        return self._counted_cost(start, end)

    def _counted_cost(self, start: int, end: int) -> int:
        return max(self.count(self.text[start:end]) - self.overhead, _length_cost(end - start))

    def _fits(self, start: int, end: int) -> bool:
        if _length_cost(len(self.prefix) + end - start) > self.max_tokens:
            return False
        return self.count(self.prefix + self.text[start:end]) <= self.max_tokens

    def _split(
        self, start: int, end: int, separators: tuple[re.Pattern[str], ...], *, budget: int
    ) -> list[tuple[int, int]]:
        if self._cost(start, end) <= budget:
            return [(start, end)]
        for position, separator in enumerate(separators):
            parts = _parts_between(self.text, start, end, separator)
            if len(parts) > 1:
                rest = separators[position + 1 :]
                return [piece for part in parts for piece in self._split(*part, rest, budget=budget)]
        return self._hard_split(start, end, budget=budget)

    def _hard_split(self, start: int, end: int, *, budget: int) -> list[tuple[int, int]]:
        """Cut a run with no spaces (a URL, base64) into the longest pieces that fit."""
        pieces = []
        while start < end:
            size = min(end - start, budget * HARD_SPLIT_CHARS_PER_TOKEN)
            # Counted for real: a cut inside a word is where token offsets stop adding up.
            while size > 1 and (cost := self._counted_cost(start, start + size)) > budget:
                size = min(size - 1, max(1, size * budget // cost))
            pieces.append((start, start + size))
            start += size
        return pieces

    def _pack(self, pieces: list[tuple[int, int]]) -> list[tuple[int, int]]:
        costs = [self._cost(*piece) for piece in pieces]
        chunks: list[tuple[int, int]] = []
        index, overlap_start = 0, None
        while index < len(pieces):
            start = pieces[index][0] if overlap_start is None else overlap_start
            stop = self._fill(pieces, costs, index=index, start=start)
            end = pieces[stop - 1][1]
            if not self._fits(start, end):  # then stop == index + 1: one piece, maybe with overlap
                if overlap_start is not None:
                    overlap_start = None  # this piece needs the whole budget: give up the overlap
                    continue
                finer = self._hard_split(*pieces[index], budget=max(1, costs[index] // 2))
                if len(finer) > 1:  # the counter was not additive here: cut the piece smaller
                    pieces[index : index + 1] = finer
                    costs[index : index + 1] = [self._counted_cost(*piece) for piece in finer]
                    continue
                # A piece that cannot be cut any smaller is kept as it is rather than lost.
            chunks.append((start, end))
            index = stop
            overlap_start = self._overlap_start(start, end) if index < len(pieces) else None
        return chunks

    def _fill(self, pieces: list[tuple[int, int]], costs: list[int], *, index: int, start: int) -> int:
        """One past the last piece of a chunk that starts at `start` and takes pieces from `index`."""
        used = self._cost(start, pieces[index][0]) if start < pieces[index][0] else 0
        stop = index
        while stop < len(pieces) and (stop == index or used + costs[stop] <= self.budget):
            used += costs[stop]
            stop += 1
        while stop > index + 1 and not self._fits(start, pieces[stop - 1][1]):
            stop -= 1
        return stop

    def _overlap_start(self, start: int, end: int) -> int | None:
        """Where the trailing words of the chunk worth ~overlap tokens begin (never the whole chunk)."""
        words = list(_WORD.finditer(self.text, start, end))[1:]
        overlap_start, used = None, 0
        for word in reversed(words):
            used += self._cost(word.start(), word.end())
            if used > self.overlap:
                break
            overlap_start = word.start()
        return overlap_start


def _parts_between(text: str, start: int, end: int, separator: re.Pattern[str]) -> list[tuple[int, int]]:
    """The non-blank stretches of text[start:end] between matches of `separator`."""
    parts, cursor = [], start
    for match in separator.finditer(text, start, end):
        if match.end() > match.start() or match.start() > cursor:
            parts.append((cursor, match.start()))
            cursor = match.end()
    parts.append((cursor, end))
    return [trimmed for part in parts if (trimmed := _trimmed(text, *part))]


def _trimmed(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None
