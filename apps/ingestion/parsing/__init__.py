"""Turn an uploaded file into typed text blocks, judging its format by content and refusing bad input.

    document = parse_document(data=upload_bytes, filename="handbook.pdf", declared_media_type="application/pdf")
    document.blocks, document.text, document.block_spans, document.metadata

Everything refused raises a DocumentRejected subclass with a `reason` fit to show the uploader.
"""

from .errors import (
    CorruptDocument,
    DocumentRejected,
    DocumentTooLarge,
    EmptyDocument,
    EncryptedDocument,
    UnsafeDocument,
    UnsupportedDocument,
)
from .limits import ParseLimits
from .model import BLOCK_SEPARATOR, Block, BlockKind, MediaType, ParsedDocument
from .parse import parse_document

__all__ = [
    "BLOCK_SEPARATOR",
    "Block",
    "BlockKind",
    "CorruptDocument",
    "DocumentRejected",
    "DocumentTooLarge",
    "EmptyDocument",
    "EncryptedDocument",
    "MediaType",
    "ParseLimits",
    "ParsedDocument",
    "UnsafeDocument",
    "UnsupportedDocument",
    "parse_document",
]
