"""Build test documents in memory: PDFs, Word files and hostile archives, no fixtures on disk."""

from __future__ import annotations

import io
import zipfile

import docx
from pypdf import PdfReader, PdfWriter


def pdf_with_text(*, pages: list[str], title: str | None = None) -> bytes:
    """A minimal valid PDF, one Helvetica line per line of each page's text.

    pypdf can copy and encrypt PDFs but not draw text, so the objects are written by hand.
    """
    font_id, pages_id, first_page_id = 3, 2, 4
    page_ids = [first_page_id + 2 * index for index in range(len(pages))]
    objects: dict[int, bytes] = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        pages_id: b"<< /Type /Pages /Kids [%s] /Count %d >>"
        % (b" ".join(b"%d 0 R" % page_id for page_id in page_ids), len(pages)),
        font_id: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    }
    for page_id, text in zip(page_ids, pages, strict=True):
        stream = _text_stream(text)
        objects[page_id] = (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (page_id + 1)
        )
        objects[page_id + 1] = b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream)
    info_id = None
    if title is not None:
        info_id = max(objects) + 1
        objects[info_id] = b"<< /Title (%s) >>" % _pdf_string(title)
    return _pdf_file(objects, info_id=info_id)


def _text_stream(text: str) -> bytes:
    lines = b" T* ".join(b"(%s) Tj" % _pdf_string(line) for line in text.split("\n"))
    return b"BT /F1 11 Tf 14 TL 72 720 Td " + lines + b" ET"


def _pdf_string(text: str) -> bytes:
    return text.encode("cp1252").replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def _pdf_file(objects: dict[int, bytes], *, info_id: int | None) -> bytes:
    output = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    for number in sorted(objects):
        offsets[number] = len(output)
        output += b"%d 0 obj\n%s\nendobj\n" % (number, objects[number])
    xref_at = len(output)
    size = max(objects) + 1
    output += b"xref\n0 %d\n0000000000 65535 f \n" % size
    for number in range(1, size):
        output += b"%010d 00000 n \n" % offsets[number]
    info = b" /Info %d 0 R" % info_id if info_id else b""
    output += b"trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n" % (size, info, xref_at)
    return bytes(output)


def blank_pdf(*, page_count: int = 1) -> bytes:
    """What a scan looks like to a text extractor: pages without a text layer."""
    writer = PdfWriter()
    for _ in range(page_count):
        writer.add_blank_page(width=612, height=792)
    return _written(writer)


def encrypted_pdf(*, user_password: str, pages: list[str]) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_with_text(pages=pages))))
    writer.encrypt(user_password=user_password, owner_password="owner-secret", algorithm="AES-128")
    return _written(writer)


def _written(writer: PdfWriter) -> bytes:
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def docx_report() -> bytes:
    """A Word file with a title, two heading levels, prose, a bulleted list and a table."""
    document = docx.Document()
    document.add_heading("Travel Policy", level=0)
    document.add_heading("Booking", level=1)
    document.add_paragraph("Book flights through the travel portal at least two weeks ahead.")
    document.add_paragraph("Economy class on flights under six hours", style="List Bullet")
    document.add_paragraph("Business class needs director approval", style="List Bullet")
    document.add_heading("Allowances", level=2)
    table = document.add_table(rows=3, cols=2)
    for row, (city, amount) in zip(
        table.rows, [("City", "Daily allowance"), ("Berlin", "EUR 60"), ("Tokyo", "JPY 9000")], strict=True
    ):
        row.cells[0].text, row.cells[1].text = city, amount
    document.add_paragraph("Receipts are required for every claim.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def zip_with_members(*, base: bytes | None = None, members: dict[str, bytes]) -> bytes:
    """A ZIP holding `members`, appended to a copy of the `base` archive's members if given."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        if base is not None:
            with zipfile.ZipFile(io.BytesIO(base)) as original:
                for info in original.infolist():
                    archive.writestr(info, original.read(info))
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def docx_zip_bomb(*, padding_bytes: int = 8 * 1024 * 1024) -> bytes:
    """A real Word file carrying one member of zeros that deflates about a thousandfold."""
    return zip_with_members(base=docx_report(), members={"word/media/padding.bin": bytes(padding_bytes)})
