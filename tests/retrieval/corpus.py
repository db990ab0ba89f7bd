"""Ingest one document through the real pipeline and graph sync, for retrieval tests."""

from __future__ import annotations

from apps.documents.models import Document
from apps.ingestion.graph_sync import documents_graph_sync
from apps.ingestion.pipeline import ingestion_jobs_run
from apps.ingestion.services import UploadedFile, document_upload


def document_ingest(*, filename: str, text: str, visible_to_tenant: bool) -> Document:
    """Upload, index and link into the graph now (no worker), failing the test if the graph write fails."""
    job = document_upload(
        upload=UploadedFile(filename=filename, data=text.encode()),
        uploaded_by=None,
        visible_to_tenant=visible_to_tenant,
    )
    run = ingestion_jobs_run(job_ids=[str(job.pk)])
    assert documents_graph_sync(document_ids=run.stored_document_ids) == []
    return Document.objects.get(pk=job.document_id)
