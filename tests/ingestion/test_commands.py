"""`manage.py ingest` on a folder of mixed files: progress, summary, exit status."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from apps.documents.models import Document
from apps.tenants.context import in_tenant

from .documents_factory import docx_report, pdf_with_text

pytestmark = [pytest.mark.django_db, pytest.mark.integration]


@pytest.fixture
def mixed_folder(tmp_path):
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "refunds.md").write_text("# Refunds\n\nFull refund within 30 days.")
    (tmp_path / "policies" / "travel.html").write_text("<html><body><h1>Travel</h1><p>Economy class.</p></body></html>")
    (tmp_path / "notes.txt").write_bytes("Caf\u00e9 hours: 8-18.".encode("latin-1"))
    (tmp_path / "report.docx").write_bytes(docx_report())
    (tmp_path / "scan.pdf").write_bytes(pdf_with_text(pages=["Quarterly numbers are up."]))
    (tmp_path / "offices.csv").write_text("office,city\nHQ,Berlin\nSales,Munich\nLab,Lisbon\n")
    (tmp_path / ".hidden.txt").write_text("never ingested")
    return tmp_path


def test_ingests_a_folder_of_mixed_files_and_summarises(tenant_alpha, mixed_folder):
    out = io.StringIO()
    call_command("ingest", str(mixed_folder), "--tenant", "alpha", "--visible-to-all", stdout=out)

    assert "succeeded: 6  skipped: 0  failed: 0" in out.getvalue()
    with in_tenant("alpha"):
        assert Document.objects.filter(status=Document.Status.INDEXED).count() == 6
        assert not Document.objects.filter(source__contains=".hidden").exists()

    again = io.StringIO()
    call_command("ingest", str(mixed_folder), "--tenant", "alpha", stdout=again)
    assert "succeeded: 0  skipped: 6  failed: 0" in again.getvalue()


def test_failures_are_listed_and_make_the_command_fail(tenant_alpha, mixed_folder):
    (mixed_folder / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    (mixed_folder / "empty.txt").write_bytes(b"")
    out = io.StringIO()
    with pytest.raises(CommandError, match="2 file"):
        call_command("ingest", str(mixed_folder), "--tenant", "alpha", stdout=out)
    assert "succeeded: 6  skipped: 0  failed: 2" in out.getvalue()


def test_unknown_tenant_or_path_is_a_clear_error(tenant_alpha, tmp_path):
    with pytest.raises(CommandError, match="no active tenant"):
        call_command("ingest", str(tmp_path), "--tenant", "nope")
    with pytest.raises(CommandError, match="no such file or folder"):
        call_command("ingest", str(tmp_path / "missing"), "--tenant", "alpha")
