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
    # How much of a huge table or JSON tree becomes text; past it the job succeeds with a warning.
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
            max_table_rows=settings.INGESTION_MAX_TABLE_ROWS,
            max_json_values=settings.INGESTION_MAX_JSON_VALUES,
        )
