"""What a file is, judged by its content. Names and declared types are only tie-breakers."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import PurePosixPath

from .errors import UnsafeDocument, UnsupportedDocument
from .model import MediaType

_EXTENSION_HINTS = {
    ".txt": MediaType.PLAIN_TEXT, ".text": MediaType.PLAIN_TEXT, ".log": MediaType.PLAIN_TEXT,
    ".md": MediaType.MARKDOWN, ".markdown": MediaType.MARKDOWN, ".mdown": MediaType.MARKDOWN,
    ".html": MediaType.HTML, ".htm": MediaType.HTML, ".xhtml": MediaType.HTML,
    ".pdf": MediaType.PDF, ".docx": MediaType.DOCX,
    ".csv": MediaType.CSV, ".tsv": MediaType.CSV,
    ".json": MediaType.JSON, ".jsonl": MediaType.JSON, ".ndjson": MediaType.JSON,
}  # fmt: skip
_DECLARED_ALIASES = {
    "text/x-markdown": MediaType.MARKDOWN,
    "application/xhtml+xml": MediaType.HTML,
    "application/csv": MediaType.CSV,
    "text/x-csv": MediaType.CSV,
    "text/tab-separated-values": MediaType.CSV,
    "application/x-ndjson": MediaType.JSON,
    "application/jsonl": MediaType.JSON,
}
# Formats we recognise only to refuse them with a reason better than "binary data".
_REFUSED_SIGNATURES = (
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "a legacy (.doc/.xls/.ppt) or password-protected Office file"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"\x7fELF", "an executable program"),
    (b"{\\rtf", "a Rich Text Format (RTF) document"),
)
_PDF_HEADER = re.compile(rb"\A\s*%PDF-\d\.\d")
_ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")
SNIFF_CHARS = 64 * 1024

_HTML_DOCUMENT_START = re.compile(
    r"\A\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body)\b", re.IGNORECASE | re.DOTALL
)
_HTML_TAG = re.compile(
    r"</?(?:html|head|body|title|meta|div|span|p|a|br|h[1-6]|ul|ol|li|table|tr|td|th|pre|blockquote"
    r"|section|article|main|nav|header|footer|script|style|form|iframe|img|strong|em|b|i)\b[^>]*>",
    re.IGNORECASE,
)
_MD_STRONG = re.compile(
    r"^(?:#{1,6}[ \t]+\S|(?:```|~~~)|\s*\|?\s*:?-{3,}:?\s*\|\s*:?-{3,})",  # ATX heading, code fence, table rule
    re.MULTILINE,
)
_MD_LIST_ITEM = re.compile(r"^ {0,3}(?:[-*+]|\d{1,9}[.)])[ \t]+\S", re.MULTILINE)
_MD_LINK = re.compile(r"\[[^\]\n]+\]\([^)\s]+\)")
MIN_SNIFFED_CSV_ROWS = 3  # header + 2 rows: two prose lines with one comma each are not a table


def media_type_hint(*, filename: str, declared_media_type: str | None) -> MediaType | None:
    """What the uploader says the file is; the declared type beats the extension."""
    declared = (declared_media_type or "").split(";")[0].strip().lower()
    canonical = {media_type.value: media_type for media_type in MediaType} | _DECLARED_ALIASES
    if declared in canonical:
        return canonical[declared]
    suffix = PurePosixPath(filename.replace("\\", "/")).suffix.lower()
    return _EXTENSION_HINTS.get(suffix)


def sniff_binary_container(*, data: bytes) -> MediaType | None:
    """PDF or a ZIP (a DOCX candidate) by magic bytes; other known binaries are refused; else None."""
    if _PDF_HEADER.match(data[:1024]):
        return MediaType.PDF
    if data.startswith(_ZIP_SIGNATURES):
        return MediaType.DOCX
    for signature, description in _REFUSED_SIGNATURES:
        if data.startswith(signature):
            raise UnsupportedDocument(f"The file looks like {description}, which can't be indexed.")
    return None


def sniff_text_format(*, text: str, hint: MediaType | None) -> MediaType:
    head = text[:SNIFF_CHARS]
    if _looks_like_html(head, hint=hint):
        return MediaType.HTML
    if _looks_like_json(text):
        return MediaType.JSON
    if _looks_like_csv(head, min_rows=2 if hint is MediaType.CSV else MIN_SNIFFED_CSV_ROWS):
        return MediaType.CSV
    if hint is MediaType.MARKDOWN or _looks_like_markdown(head):
        return MediaType.MARKDOWN
    return MediaType.PLAIN_TEXT


def _looks_like_html(head: str, *, hint: MediaType | None) -> bool:
    if _HTML_DOCUMENT_START.match(head):
        return True
    # A fragment: markup from the first character, or a file its uploader calls HTML.
    tags = len(_HTML_TAG.findall(head))
    return (tags >= 2 and head.lstrip().startswith("<")) or (hint is MediaType.HTML and tags >= 1)


def _looks_like_json(text: str) -> bool:
    stripped = text.lstrip()
    if not stripped.startswith(("{", "[")):
        return False
    try:
        return isinstance(json.loads(stripped), dict | list)
    except RecursionError:
        raise UnsafeDocument("The JSON document is nested too deeply to read safely.") from None
    except ValueError:
        return looks_like_json_lines(stripped)


def looks_like_json_lines(text: str) -> bool:
    """JSON Lines: every non-empty line a JSON object or array (checked on the first lines only)."""
    lines = [line for line in text[:SNIFF_CHARS].splitlines() if line.strip()][:50]
    if len(lines) < 2 or not lines[0].lstrip().startswith(("{", "[")):
        return False
    if len(text) > SNIFF_CHARS:
        lines = lines[:-1]  # the sample may have cut the last line short
    try:
        return all(isinstance(json.loads(line), dict | list) for line in lines)
    except (ValueError, RecursionError):
        return False


def _looks_like_csv(head: str, *, min_rows: int) -> bool:
    """csv.Sniffer finds a delimiter, and every sampled row has the same number (2+) of columns."""
    # Each row takes at least one line: too few lines cannot be a table, and the sniffer, slow on
    # long prose, need not run (a title and an abstract, say).
    if sum(1 for line in head.splitlines() if line.strip()) < min_rows:
        return False
    try:
        dialect = csv.Sniffer().sniff(head[: 16 * 1024], delimiters=",;\t")
        rows = [row for row in csv.reader(io.StringIO(head), dialect) if row]
    except csv.Error:
        return False
    if len(head) == SNIFF_CHARS:
        rows = rows[:-1]  # the sample may have cut the last row short
    widths = {len(row) for row in rows[:200]}
    return len(rows) >= min_rows and len(widths) == 1 and widths.pop() >= 2


def _looks_like_markdown(head: str) -> bool:
    if _MD_STRONG.search(head):
        return True
    return bool(_MD_LINK.search(head)) or len(_MD_LIST_ITEM.findall(head)) >= 2
