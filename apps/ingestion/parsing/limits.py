"""How much a single upload may cost us to parse."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class ParseLimits:
    max_upload_bytes: int
    max_uncompressed_bytes: int
    max_compression_ratio: int
    max_pdf_pages: int
    # Not settings: these only cap how much of a huge table or JSON tree becomes text.
    max_table_rows: int = 100_000
    max_json_values: int = 100_000
    max_archive_members: int = 10_000

    @classmethod
    def from_settings(cls) -> ParseLimits:
        return cls(
            max_upload_bytes=settings.INGESTION_MAX_UPLOAD_BYTES,
            max_uncompressed_bytes=settings.INGESTION_MAX_UNCOMPRESSED_BYTES,
            max_compression_ratio=settings.INGESTION_MAX_COMPRESSION_RATIO,
            max_pdf_pages=settings.INGESTION_MAX_PDF_PAGES,
        )
