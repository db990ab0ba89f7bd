"""PDF through pypdf: text page by page, with the page of every block kept for citations."""

from __future__ import annotations

import io
import re

from pypdf import PageObject, PasswordType, PdfReader
from pypdf.errors import LimitReachedError

from .errors import CorruptDocument, DocumentTooLarge, EncryptedDocument, UnsafeDocument, failures_read_as_corrupt
from .limits import ParseLimits
from .model import Block, MediaType, ParsedDocument, block_tidy, document_build

CORRUPT_REASON = "The PDF is damaged and could not be read."
TRUNCATED_REASON = "The PDF is incomplete; it may have been cut off during upload. Upload the full file again."
SCANNED_REASON = (
    "The PDF has no extractable text; it is probably a scanned or image-only document. "
    "Run it through OCR and upload the result."
)
EOF_SEARCH_BYTES = 2048  # readers look for %%EOF near the end; some writers leave trailing junk after it
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")


def parse_pdf(*, data: bytes, limits: ParseLimits) -> ParsedDocument:
    # pypdf repairs a cut-off file and returns its first pages; indexing half a document silently
    # is worse than asking for the whole file again.
    if b"%%EOF" not in data[-EOF_SEARCH_BYTES:]:
        raise CorruptDocument(TRUNCATED_REASON)
    with failures_read_as_corrupt(reason=CORRUPT_REASON):
        reader = PdfReader(io.BytesIO(data), strict=False)
        _unlock(reader)
        page_count = len(reader.pages)
        if page_count > limits.max_pdf_pages:
            raise DocumentTooLarge(f"The PDF has {page_count} pages; the limit is {limits.max_pdf_pages}.")
        page_texts = [_page_text(page) for page in reader.pages]
        title = _metadata_title(reader)
    if page_texts and all(text is None for text in page_texts):
        raise CorruptDocument(CORRUPT_REASON)
    return _document(page_texts=page_texts, title=title)


def _unlock(reader: PdfReader) -> None:
    """Many PDFs are encrypted only to set permissions and open with the empty password."""
    if not reader.is_encrypted:
        return
    try:
        unlocked = reader.decrypt("") != PasswordType.NOT_DECRYPTED
    except Exception as error:  # e.g. an algorithm pypdf cannot handle: still a locked document
        raise EncryptedDocument() from error
    if not unlocked:
        raise EncryptedDocument()


def _page_text(page: PageObject) -> str | None:
    """The page's text, or None when this page alone cannot be read."""
    try:
        return page.extract_text()
    except LimitReachedError as error:
        raise UnsafeDocument("The PDF contains a stream that expands to an unsafe size.") from error
    except Exception:  # noqa: BLE001 - one unreadable page should not cost us the others
        return None


def _metadata_title(reader: PdfReader) -> str | None:
    try:
        title = reader.metadata.title if reader.metadata else None
    except Exception:  # noqa: BLE001 - a broken info dictionary should not cost us the text
        return None
    return title if isinstance(title, str) else None


def _document(*, page_texts: list[str | None], title: str | None) -> ParsedDocument:
    blocks: list[Block] = []
    block_pages: list[int] = []
    for page_number, text in enumerate(page_texts, start=1):
        for paragraph in _PARAGRAPH_BREAK.split(text or ""):
            block = block_tidy(Block(kind="paragraph", text=paragraph))
            if block is not None:
                blocks.append(block)
                block_pages.append(page_number)
    metadata = {
        "page_count": len(page_texts),
        "block_pages": block_pages,  # 1-based page of each block, for page-level citations
        "unreadable_pages": [number for number, text in enumerate(page_texts, start=1) if text is None],
    }
    return document_build(
        media_type=MediaType.PDF, blocks=blocks, title=title, metadata=metadata, empty_reason=SCANNED_REASON
    )
