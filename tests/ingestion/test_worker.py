"""Ingestion through a real Celery worker process, the Redis broker and committed data."""

from __future__ import annotations

import time

import pytest

from apps.documents.models import Chunk, Document
from apps.ingestion.models import IngestionJob
from apps.ingestion.services import UploadedFile, documents_upload
from apps.integrations.graph.knowledge import graph_stats
from apps.tenants.context import in_tenant
from config.celery_app import app as celery_app
from tests.support.celery_worker import celery_worker
from tests.support.committed import committed_tenant

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def broker_mode():
    """This test process publishes to the real broker instead of running tasks in-process."""
    celery_app.conf.task_always_eager = False
    yield
    celery_app.conf.task_always_eager = True


def wait_for(predicate, *, timeout: float = 120, every: float = 0.3) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(every)
    raise AssertionError("timed out")


def test_uploads_are_indexed_by_a_real_worker_and_the_graph_follows(committed_db, broker_mode, tmp_path):
    uploads = [
        UploadedFile(filename="refunds.md", data=b"# Refunds\n\nRefunds within 30 days at Northwind."),
        UploadedFile(filename="leave.txt", data=b"Annual leave is 28 days at Northwind."),
        UploadedFile(filename="broken.pdf", data=b"%PDF-1.7 truncated"),
    ]
    with (
        committed_tenant("worker") as tenant,
        celery_worker(log_path=tmp_path / "worker.log"),
        in_tenant(tenant.schema_name),
    ):
        jobs = documents_upload(uploads=uploads, uploaded_by=None, visible_to_tenant=True)
        job_ids = [job.pk for job in jobs]

        def finished() -> bool:
            return IngestionJob.objects.filter(pk__in=job_ids, status__in=IngestionJob.FINISHED).count() == 3

        wait_for(finished)
        statuses = dict(IngestionJob.objects.filter(pk__in=job_ids).values_list("filename", "status"))
        assert statuses == {"refunds.md": "succeeded", "leave.txt": "succeeded", "broken.pdf": "failed"}
        assert IngestionJob.objects.get(filename="broken.pdf").error_message
        assert all(job.celery_task_id for job in IngestionJob.objects.filter(pk__in=job_ids))
        indexed = Document.objects.filter(status=Document.Status.INDEXED)
        assert Chunk.objects.filter(document__in=indexed).count() == 2

        wait_for(lambda: not indexed.exclude(graph_status=Document.GraphStatus.SYNCED).exists())
        stats = graph_stats(tenant=tenant.schema_name)
        assert stats["documents"] == 2
        assert stats["chunks"] == 2
        assert stats["entities"] > 0
