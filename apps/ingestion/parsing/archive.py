"""Judge a ZIP container from its directory alone, before any member is decompressed.

The declared sizes are enough: CPython's zipfile never inflates a member past its declared size
(it stops there and fails the CRC), so a member that lies about its size cannot expand further.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import PurePosixPath

from .errors import CorruptDocument, EncryptedDocument, UnsafeDocument, UnsupportedDocument
from .limits import ParseLimits

DOCX_REQUIRED_MEMBERS = ("[Content_Types].xml", "word/document.xml")
# Small members compress by odd ratios (a 20 KB run of empty table cells can shrink 200x); only a
# member large enough to matter can be a bomb.
RATIO_CHECK_MIN_BYTES = 1024 * 1024
EMBEDDINGS_FOLDER = "word/embeddings/"  # where Word keeps embedded workbooks: legitimately archives
_ARCHIVE_SUFFIXES = {".zip", ".jar", ".gz", ".tgz", ".7z", ".rar", ".tar", ".docx", ".xlsx", ".pptx", ".odt"}
_OTHER_ZIP_FORMATS = (
    ("xl/workbook.xml", "an Excel workbook (.xlsx)"),
    ("ppt/presentation.xml", "a PowerPoint presentation (.pptx)"),
    ("mimetype", "an OpenDocument file"),
)


def docx_archive_inspect(*, data: bytes, limits: ParseLimits) -> None:
    """Refuse a ZIP that is unsafe to open or is not a Word document; return quietly otherwise."""
    members = _members(data)
    if len(members) > limits.max_archive_members:
        raise UnsafeDocument(f"The file contains more than {limits.max_archive_members} internal parts.")
    names = [member.filename for member in members]
    if len(set(names)) != len(names):  # two parts under one name: readers disagree on which one counts
        raise UnsafeDocument("The file contains duplicate internal parts.")
    for member in members:
        _refuse_odd_member(member)
    _refuse_bomb(members, limits=limits)
    _refuse_non_docx(set(names))


def _members(data: bytes) -> list[zipfile.ZipInfo]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as error:
        raise CorruptDocument("The file looks like a ZIP-based document but is damaged.") from error


def _refuse_odd_member(member: zipfile.ZipInfo) -> None:
    name = member.filename
    path = PurePosixPath(name)
    if not name or name.startswith("/") or "\\" in name or "\x00" in name or ".." in path.parts or name[1:2] == ":":
        raise UnsafeDocument("The file contains an internal part with an unsafe name.")
    if member.flag_bits & 0x1:
        raise EncryptedDocument("The document's contents are encrypted. Remove the password and upload it again.")
    if member.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise UnsafeDocument("The file uses a compression method Word documents never use.")
    if path.suffix.lower() in _ARCHIVE_SUFFIXES and not name.startswith(EMBEDDINGS_FOLDER):
        raise UnsafeDocument("The file contains another archive nested inside it.")


def _refuse_bomb(members: list[zipfile.ZipInfo], *, limits: ParseLimits) -> None:
    if sum(member.file_size for member in members) > limits.max_uncompressed_bytes:
        raise UnsafeDocument("The file would expand to more than the allowed size when opened.")
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size >= RATIO_CHECK_MIN_BYTES and ratio > limits.max_compression_ratio:
            raise UnsafeDocument("The file is compressed far more than real documents are (a possible zip bomb).")


def _refuse_non_docx(names: set[str]) -> None:
    if all(required in names for required in DOCX_REQUIRED_MEMBERS):
        return
    description = next((label for marker, label in _OTHER_ZIP_FORMATS if marker in names), "a ZIP archive")
    raise UnsupportedDocument(
        f"The file is {description}, not a Word document (.docx). Only .docx is supported among ZIP-based formats."
    )
