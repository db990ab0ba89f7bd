"""Word (.docx) through python-docx: headings from paragraph styles, lists grouped, tables kept.

The archive is vetted first (see archive.py). python-docx parses its XML with entity resolution
off, so a "billion laughs" document.xml does not expand either.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Iterator

import docx
from docx.document import Document as WordDocument
from docx.table import Table, _Cell
from docx.text.paragraph import Paragraph

from .archive import docx_archive_inspect
from .errors import failures_read_as_corrupt
from .limits import ParseLimits
from .model import Block, MediaType, ParsedDocument, document_build

CORRUPT_REASON = "The Word document is damaged and could not be read."
_HEADING_STYLE = re.compile(r"^heading\s*([1-9])$", re.IGNORECASE)


def parse_docx(*, data: bytes, limits: ParseLimits) -> ParsedDocument:
    docx_archive_inspect(data=data, limits=limits)
    with failures_read_as_corrupt(reason=CORRUPT_REASON):
        document = docx.Document(io.BytesIO(data))
        blocks = list(_merge_list_items(_blocks(document)))
        title = document.core_properties.title or _first_level_one_heading(blocks)
    tables = sum(1 for block in blocks if block.kind == "table")
    return document_build(media_type=MediaType.DOCX, blocks=blocks, title=title, metadata={"table_count": tables})


def _blocks(document: WordDocument) -> Iterator[Block]:
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            yield Block(kind="table", text=_table_text(item))
        else:
            yield _paragraph_block(item)


def _paragraph_block(paragraph: Paragraph) -> Block:
    style_name = (paragraph.style.name if paragraph.style is not None else "") or ""
    level = _heading_level(style_name)
    if level:
        return Block(kind="heading", text=paragraph.text, level=level)
    if style_name.lower().startswith("list"):
        return Block(kind="list", text=f"- {paragraph.text}" if paragraph.text.strip() else "")
    return Block(kind="paragraph", text=paragraph.text)


def _heading_level(style_name: str) -> int | None:
    """Word's built-in "Title" and "Heading 1..9" styles (their names are English in every locale)."""
    if style_name.lower() == "title":
        return 1
    match = _HEADING_STYLE.match(style_name.strip())
    return min(int(match.group(1)), 6) if match else None


def _table_text(table: Table) -> str:
    rows = []
    for row in table.rows:
        # A merged cell comes back once per grid column it spans (same underlying <w:tc>); show it once.
        cells: list[_Cell] = []
        for cell in row.cells:
            if not cells or cell._tc is not cells[-1]._tc:
                cells.append(cell)
        texts = [" ".join(cell.text.split()) for cell in cells]
        if any(texts):
            rows.append(" | ".join(texts))
    return "\n".join(rows)


def _merge_list_items(blocks: Iterable[Block]) -> Iterator[Block]:
    """Word stores each list item as its own paragraph; a run of them is one list block."""
    pending: list[str] = []
    for block in blocks:
        if block.kind == "list":
            if block.text:
                pending.append(block.text)
            continue
        if pending:
            yield Block(kind="list", text="\n".join(pending))
            pending = []
        yield block
    if pending:
        yield Block(kind="list", text="\n".join(pending))


def _first_level_one_heading(blocks: list[Block]) -> str | None:
    return next((block.text for block in blocks if block.kind == "heading" and block.level == 1), None)
