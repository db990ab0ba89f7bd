"""The one entry point: bytes in, a ParsedDocument out, or a DocumentRejected with a reason."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from .cleaning import clean_text
from .csv_table import parse_csv
from .decoding import decode_text
from .docx_file import parse_docx
from .errors import DocumentTooLarge, EmptyDocument
from .html_page import parse_html
from .json_data import parse_json
from .limits import ParseLimits
from .markdown_text import parse_markdown
from .model import MediaType, ParsedDocument
from .pdf_file import parse_pdf
from .plain_text import parse_plain_text
from .sniffing import media_type_hint, sniff_binary_container, sniff_text_format

TextParser = Callable[..., ParsedDocument]
_TEXT_PARSERS: dict[MediaType, TextParser] = {
    MediaType.PLAIN_TEXT: parse_plain_text,
    MediaType.MARKDOWN: parse_markdown,
    MediaType.HTML: parse_html,
    MediaType.CSV: parse_csv,
    MediaType.JSON: parse_json,
}


def parse_document(
    *, data: bytes, filename: str, declared_media_type: str | None = None, limits: ParseLimits | None = None
) -> ParsedDocument:
    """Detect the format from the content (name and declared type only break ties) and parse it.

    Raises a DocumentRejected subclass whose `reason` can be shown to the uploader.
    """
    limits = limits or ParseLimits.from_settings()
    _refuse_by_size(data, limits=limits)
    hint = media_type_hint(filename=filename, declared_media_type=declared_media_type)
    container = sniff_binary_container(data=data)
    if container is MediaType.PDF:
        document = parse_pdf(data=data, limits=limits)
    elif container is MediaType.DOCX:
        document = parse_docx(data=data, limits=limits)
    else:
        document = _parse_text(data=data, hint=hint, limits=limits)
    if hint is not None and hint != document.media_type:  # worth a look when auditing odd uploads
        document = dataclasses.replace(document, metadata={**document.metadata, "media_type_hint": str(hint)})
    return document


def _refuse_by_size(data: bytes, *, limits: ParseLimits) -> None:
    if not data:
        raise EmptyDocument("The file is empty.")
    if len(data) > limits.max_upload_bytes:
        raise DocumentTooLarge(
            f"The file is {_megabytes(len(data))} MB; the limit is {_megabytes(limits.max_upload_bytes)} MB."
        )


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f}".removesuffix(".0")


def _parse_text(*, data: bytes, hint: MediaType | None, limits: ParseLimits) -> ParsedDocument:
    decoded = decode_text(data=data)
    text = clean_text(decoded.text)
    if not text.strip():
        raise EmptyDocument("The file contains only whitespace.")
    media_type = sniff_text_format(text=text, hint=hint)
    document = _TEXT_PARSERS[media_type](text=text, limits=limits)
    encoding = {"encoding": decoded.encoding, "invalid_bytes_replaced": decoded.had_invalid_bytes}
    return dataclasses.replace(document, metadata={**document.metadata, **encoding})
