"""Markdown by its block syntax: ATX and setext headings, fences, lists, pipe tables, paragraphs.

Inline markup is kept as written; it reads fine to people, BM25 and the embedder alike. No Markdown
library is among our dependencies, and block structure is all the chunker needs.
"""

from __future__ import annotations

import re

from .limits import ParseLimits
from .model import Block, MediaType, ParsedDocument, document_build

_ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT_UNDERLINE = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d{1,9}[.)])[ \t]+\S")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)*\|?\s*$")
_THEMATIC_BREAK = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_QUOTE_MARKER = re.compile(r"^ {0,3}>[ \t]?")
# Raw HTML is legal Markdown. Scripts, styles and comments never show when it is rendered, which is
# exactly why hidden instructions hide there; they are not the document's content.
_HIDDEN_HTML = re.compile(r"<(script|style)\b.*?</\1\s*>|<!--.*?-->", re.IGNORECASE | re.DOTALL)
_FRONT_MATTER_TITLE = re.compile(r"^title:\s*[\"']?(.*?)[\"']?\s*$", re.IGNORECASE)
MAX_FRONT_MATTER_LINES = 100


def parse_markdown(*, text: str, limits: ParseLimits) -> ParsedDocument:
    lines = _HIDDEN_HTML.sub("", text).split("\n")
    front_matter_title, body_start = _front_matter(lines)
    blocks = _MarkdownReader(lines[body_start:]).blocks()
    first_h1 = next((block.text for block in blocks if block.kind == "heading" and block.level == 1), None)
    return document_build(media_type=MediaType.MARKDOWN, blocks=blocks, title=front_matter_title or first_h1)


def _front_matter(lines: list[str]) -> tuple[str | None, int]:
    """YAML front matter is metadata, not prose: skip it, keeping only its title."""
    if not lines or lines[0].strip() != "---":
        return None, 0
    for index, line in enumerate(lines[1:MAX_FRONT_MATTER_LINES], start=1):
        if line.strip() in ("---", "..."):
            titles = [match.group(1) for raw in lines[1:index] if (match := _FRONT_MATTER_TITLE.match(raw))]
            return (titles[0] if titles else None), index + 1
    return None, 0


class _MarkdownReader:
    """One pass over the lines; each `_read_*` consumes one block and appends it."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.position = 0
        self.found: list[Block] = []

    def blocks(self) -> list[Block]:
        while self.position < len(self.lines):
            self._read_block()
        return self.found

    def _read_block(self) -> None:
        line = self.lines[self.position]
        if not line.strip() or _THEMATIC_BREAK.match(line):
            self.position += 1
        elif _FENCE.match(line):
            self._read_fence()
        elif heading := _ATX_HEADING.match(line):
            self.found.append(Block(kind="heading", text=heading.group(2) or "", level=len(heading.group(1))))
            self.position += 1
        elif self._starts_table(self.position):
            self._read_table()
        elif _LIST_ITEM.match(line):
            self._read_list()
        else:
            self._read_paragraph()

    def _starts_table(self, position: int) -> bool:
        line = self.lines[position]
        following = self.lines[position + 1] if position + 1 < len(self.lines) else ""
        return "|" in line and "|" in following and bool(_TABLE_RULE.match(following))

    def _starts_other_block(self, position: int) -> bool:
        line = self.lines[position]
        return bool(_FENCE.match(line) or _ATX_HEADING.match(line) or _LIST_ITEM.match(line)) or self._starts_table(
            position
        )

    def _read_fence(self) -> None:
        fence = _FENCE.match(self.lines[self.position])
        assert fence is not None
        marker = fence.group(1)
        end = self.position + 1
        while end < len(self.lines) and not self.lines[end].strip().startswith(marker):
            end += 1
        self.found.append(Block(kind="code", text="\n".join(self.lines[self.position + 1 : end])))
        self.position = end + 1  # an unclosed fence runs to the end of the document

    def _read_table(self) -> None:
        end = self.position
        while end < len(self.lines) and "|" in self.lines[end] and self.lines[end].strip():
            end += 1
        rows = [line.strip().strip("|").strip() for line in self.lines[self.position : end]]
        cells = [" | ".join(cell.strip() for cell in row.split("|")) for row in rows if not _TABLE_RULE.match(row)]
        self.found.append(Block(kind="table", text="\n".join(cells)))
        self.position = end

    def _read_list(self) -> None:
        end = self.position + 1
        while end < len(self.lines):
            line = self.lines[end]
            if not line.strip():
                # A blank line ends the list unless the next line is another item or indented continuation.
                following = self.lines[end + 1] if end + 1 < len(self.lines) else ""
                if not (_LIST_ITEM.match(following) or following.startswith(("  ", "\t"))):
                    break
            elif not (_LIST_ITEM.match(line) or line.startswith((" ", "\t"))) and self._starts_other_block(end):
                break
            end += 1
        self.found.append(Block(kind="list", text="\n".join(self.lines[self.position : end])))
        self.position = end

    def _read_paragraph(self) -> None:
        end = self.position + 1
        while end < len(self.lines) and self.lines[end].strip() and not self._starts_other_block(end):
            underline = _SETEXT_UNDERLINE.match(self.lines[end])
            if underline:
                self._emit_setext_heading(end, level=1 if underline.group(1).startswith("=") else 2)
                return
            end += 1
        text = "\n".join(_QUOTE_MARKER.sub("", line) for line in self.lines[self.position : end])
        self.found.append(Block(kind="paragraph", text=text))
        self.position = end

    def _emit_setext_heading(self, underline_position: int, *, level: int) -> None:
        text = " ".join(self.lines[self.position : underline_position])
        self.found.append(Block(kind="heading", text=text, level=level))
        self.position = underline_position + 1
