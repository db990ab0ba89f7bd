"""What every parser produces: a flat list of typed blocks, and the text they join into."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from .cleaning import clean_text, single_line, tidy_code, tidy_prose
from .errors import EmptyDocument

BlockKind = Literal["heading", "paragraph", "list", "table", "code"]
BLOCK_SEPARATOR = "\n\n"
MAX_TITLE_CHARS = 300


class MediaType(StrEnum):
    PLAIN_TEXT = "text/plain"
    MARKDOWN = "text/markdown"
    HTML = "text/html"
    PDF = "application/pdf"
    DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    CSV = "text/csv"
    JSON = "application/json"


@dataclass(frozen=True)
class Block:
    kind: BlockKind
    text: str
    level: int = 0  # 1..6 for headings, 0 otherwise

    def __post_init__(self) -> None:
        if self.kind == "heading" and not 1 <= self.level <= 6:
            raise ValueError(f"heading level must be 1..6, got {self.level}")


@dataclass(frozen=True)
class ParsedDocument:
    media_type: MediaType
    title: str | None
    blocks: list[Block]
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The blocks joined by blank lines; chunk offsets index into this string."""
        return BLOCK_SEPARATOR.join(block.text for block in self.blocks)

    @property
    def block_spans(self) -> list[tuple[int, int]]:
        """(start, end) of each block in `text`, so `text[start:end] == blocks[i].text`."""
        spans, start = [], 0
        for block in self.blocks:
            spans.append((start, start + len(block.text)))
            start += len(block.text) + len(BLOCK_SEPARATOR)
        return spans


def block_tidy(block: Block) -> Block | None:
    """The block with normalised text, or None when nothing readable is left."""
    text = clean_text(block.text)
    if block.kind == "heading":
        text = single_line(text)
    elif block.kind == "code":
        text = tidy_code(text)
    else:
        text = tidy_prose(text)
    return Block(kind=block.kind, text=text, level=block.level) if text.strip() else None


def document_build(
    *,
    media_type: MediaType,
    blocks: Iterable[Block],
    title: str | None = None,
    metadata: dict[str, Any] | None = None,
    empty_reason: str | None = None,
) -> ParsedDocument:
    """Tidy the blocks and refuse a document that has no text left."""
    kept = [tidied for block in blocks if (tidied := block_tidy(block)) is not None]
    if not kept:
        raise EmptyDocument(empty_reason)
    clean_title = single_line(clean_text(title or ""))[:MAX_TITLE_CHARS]
    return ParsedDocument(media_type=media_type, title=clean_title or None, blocks=kept, metadata=metadata or {})
