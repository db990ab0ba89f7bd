"""What the parse_document tests share: generous limits and short ways to parse and to read blocks."""

from __future__ import annotations

from apps.ingestion.parsing import ParsedDocument, ParseLimits, parse_document

LIMITS = ParseLimits(
    max_upload_bytes=50 * 1024 * 1024,
    max_uncompressed_bytes=200 * 1024 * 1024,
    max_compression_ratio=100,
    max_pdf_pages=2000,
)


def parse(data: bytes, filename: str, **options) -> ParsedDocument:
    options.setdefault("limits", LIMITS)
    return parse_document(data=data, filename=filename, **options)


def blocks_of(document: ParsedDocument) -> list[tuple[str, int, str]]:
    return [(block.kind, block.level, block.text) for block in document.blocks]
