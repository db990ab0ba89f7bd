"""parse_document: the format detected by content, not by name; encodings detected and recorded."""

from __future__ import annotations

import random

import pytest

from apps.ingestion.parsing import MediaType, UnsupportedDocument
from tests.ingestion.documents_factory import docx_report, pdf_with_text

from .parsing_helpers import parse


@pytest.mark.parametrize(
    ("data", "filename", "expected"),
    [
        (b"# Title\n\nBody text.\n", "readme.txt", MediaType.MARKDOWN),
        (b"<html><body><h1>Hi</h1><p>There</p></body></html>", "page.dat", MediaType.HTML),
        (pdf_with_text(pages=["Not a Word file."]), "letter.docx", MediaType.PDF),
        (docx_report(), "report.pdf", MediaType.DOCX),
        (b'{"key": "value"}', "config.txt", MediaType.JSON),
        (b"a,b,c\n1,2,3\n4,5,6\n", "data.txt", MediaType.CSV),
        (b"Just some words, and a comma.\nAnother line.\n", "notes.csv", MediaType.PLAIN_TEXT),
        (
            b"Plain prose, with commas, in it.\nA second line, also with commas.\nA third.\n",
            "a.txt",
            MediaType.PLAIN_TEXT,
        ),
    ],
)
def test_format_is_detected_from_content_not_name(data, filename, expected):
    assert parse(data, filename).media_type == expected


def test_the_hint_breaks_ties_but_is_recorded_when_overruled():
    markdown_looking = b"Meeting notes\n\nNothing but prose here.\n"

    declared = parse(markdown_looking, "notes", declared_media_type="text/markdown; charset=utf-8")
    overruled = parse(b"# Heading\n\ntext", "notes.txt")

    assert declared.media_type == MediaType.MARKDOWN
    assert overruled.metadata["media_type_hint"] == "text/plain"


def test_binary_garbage_named_txt_is_rejected():
    garbage = random.Random(7).randbytes(4096)

    with pytest.raises(UnsupportedDocument, match="binary"):
        parse(garbage, "notes.txt", declared_media_type="text/plain")


def test_binary_without_nul_bytes_is_rejected_too():
    control_heavy = bytes(range(1, 32)) * 50

    with pytest.raises(UnsupportedDocument, match="binary"):
        parse(control_heavy, "notes.txt")


@pytest.mark.parametrize(
    ("data", "described_as"),
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(64), "PNG image"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(64), "legacy"),
        (b"\x7fELF\x02\x01\x01" + bytes(64), "executable"),
    ],
)
def test_known_binary_formats_are_named_in_the_reason(data, described_as):
    with pytest.raises(UnsupportedDocument, match=described_as):
        parse(data, "innocent.txt")


# --- Encodings ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        ("Café au lait, naïve résumé, déjà vu.".encode("latin-1"), "cp1252"),
        ("He said “hello” and paid €5 \u2013 fine.".encode("cp1252"), "cp1252"),
        ("Zażółć gęślą jaźń, Łódź i Kraków są piękne.".encode("cp1250"), "cp1250"),
        ("Добрый день, это тестовый документ о политике отпусков.".encode("cp1251"), "cp1251"),  # noqa: RUF001
        ("UTF-16 text ✓ with a BOM".encode("utf-16"), "utf-16-le"),
        ("UTF-16 big endian ✓".encode("utf-16-be").join([b"\xfe\xff", b""]), "utf-16-be"),
        ("UTF-32 text ✓".encode("utf-32"), "utf-32-le"),
        ("\ufeffUTF-8 with a BOM ✓".encode(), "utf-8"),
        ("Plain UTF-8 ✓ naïve".encode(), "utf-8"),
    ],
)
def test_text_is_decoded_and_its_encoding_recorded(data, encoding):
    document = parse(data, "text.txt")

    assert document.metadata["encoding"] == encoding
    expected = data.decode(encoding if encoding != "utf-8" else "utf-8-sig", errors="strict").lstrip("\ufeff")
    assert document.text == expected


def test_invalid_utf8_bytes_are_replaced_not_fatal():
    data = b"Gr\xc3\xbc\xc3\x9fe aus M\xc3\xbcnchen, then a broken byte \xff\xfe here."

    document = parse(data, "broken.txt")

    assert document.metadata["encoding"] == "utf-8"
    assert document.metadata["invalid_bytes_replaced"] is True
    assert document.text.startswith("Grüße aus München, then a broken byte ")
    assert document.text.endswith(" here.")


def test_terminal_colour_codes_in_logs_are_not_mistaken_for_binary():
    log = b"".join(b"\x1b[31mERROR\x1b[0m disk %d full\n" % number for number in range(50))

    document = parse(log, "build.log")

    assert document.text.splitlines()[0] == "ERROR disk 0 full"
