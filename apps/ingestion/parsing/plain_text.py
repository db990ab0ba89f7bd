"""Plain text: paragraphs are separated by blank lines, and that is all the structure there is."""

from __future__ import annotations

import re

from .limits import ParseLimits
from .model import Block, MediaType, ParsedDocument, document_build

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")


def parse_plain_text(*, text: str, limits: ParseLimits) -> ParsedDocument:
    blocks = [Block(kind="paragraph", text=paragraph) for paragraph in _PARAGRAPH_BREAK.split(text)]
    return document_build(media_type=MediaType.PLAIN_TEXT, blocks=blocks)
