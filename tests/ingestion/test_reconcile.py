"""Nothing stuck: the reconciliation requeues jobs nobody holds and sends lagging graph syncs again
(reliability pass: 65 jobs still stuck 50 minutes after every service was back)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.documents.models import Document
from apps.ingestion.models import IngestionJob
from apps.ingestion.reconcile import ingestion_reconcile
from apps.ingestion.services import UploadedFile, document_upload
from tests.documents.factories import UserFactory, indexed_document

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

TEXT = b"# Parking\n\nVisitors park in the basement garage of the Berlin office."


@pytest.fixture
def owner(in_alpha):
    return UserFactory()


@pytest.fixture(autouse=True)
def stale_after_a_minute(settings):
    settings.INGESTION_STALE_AFTER_SECONDS = 60


def stalled(
    owner, name: str, *, status: str, silent_for: timedelta, attempts: int = 1, data: bytes = TEXT
) -> IngestionJob:
    """An uploaded file's job that a worker claimed (or that was enqueued) and then never heard of
    again: killed, lost."""
    job = document_upload(upload=UploadedFile(name, data), uploaded_by=owner)
    IngestionJob.objects.filter(pk=job.pk).update(
        status=status, attempts=attempts, heartbeat_at=timezone.now() - silent_for, stage="embedding"
    )
    job.refresh_from_db()
    return job


def test_a_job_whose_worker_died_is_requeued_and_finishes(owner):
    job = stalled(owner, "parking.md", status="running", silent_for=timedelta(minutes=5))

    done = ingestion_reconcile()  # tasks run in-process in the tests: the requeued task runs now

    job.refresh_from_db()
    assert done.requeued == 1
    assert job.status == IngestionJob.Status.SUCCEEDED
    assert job.attempts == 2
    assert Document.objects.get(pk=job.document_id).status == Document.Status.INDEXED


def test_a_queued_job_whose_task_was_lost_is_enqueued_again(owner):
    job = stalled(owner, "parking.md", status="queued", silent_for=timedelta(minutes=3), attempts=0)

    assert ingestion_reconcile().requeued == 1
    job.refresh_from_db()
    assert job.status == IngestionJob.Status.SUCCEEDED


def test_a_job_that_is_alive_or_finished_is_left_alone(owner):
    busy = stalled(owner, "busy.md", status="running", silent_for=timedelta(seconds=10))
    finished = stalled(owner, "done.md", data=TEXT + b"!", status="succeeded", silent_for=timedelta(hours=1))

    done = ingestion_reconcile()

    assert (done.requeued, done.given_up) == (0, 0)
    busy.refresh_from_db()
    finished.refresh_from_db()
    assert (busy.status, busy.attempts) == ("running", 1)
    assert finished.status == "succeeded"


def test_a_job_that_keeps_stalling_fails_with_the_reason(owner, settings):
    settings.INGESTION_MAX_ATTEMPTS = 3
    job = stalled(owner, "parking.md", status="running", silent_for=timedelta(minutes=5), attempts=3)

    assert ingestion_reconcile().given_up == 1
    job.refresh_from_db()
    assert job.status == IngestionJob.Status.FAILED
    assert "Gave up after 3 attempts" in job.error_message


def test_documents_the_graph_missed_are_sent_to_it_again(owner, settings):
    settings.GRAPH_STALE_AFTER_SECONDS = 60
    failed = indexed_document(owner=owner, title="Parking", texts=["Visitors park in the garage of Berlin."])
    lost = indexed_document(owner=owner, title="Canteen", texts=["The Lisbon canteen opens at noon."])
    fresh = indexed_document(owner=owner, title="Desk", texts=["Desks are booked in the Munich app."])
    Document.objects.filter(pk=failed.pk).update(graph_status=Document.GraphStatus.FAILED)
    Document.objects.filter(pk=lost.pk).update(
        graph_status=Document.GraphStatus.PENDING, updated_at=timezone.now() - timedelta(minutes=5)
    )
    Document.objects.filter(pk=fresh.pk).update(graph_status=Document.GraphStatus.PENDING)

    assert ingestion_reconcile().graph_resent == 2

    statuses = dict(Document.objects.filter(pk__in=[failed.pk, lost.pk, fresh.pk]).values_list("pk", "graph_status"))
    assert statuses == {failed.pk: "synced", lost.pk: "synced", fresh.pk: "pending"}


def test_the_reconciliation_runs_every_minute_for_every_active_tenant(settings, tenant_alpha, monkeypatch):
    from apps.ingestion import tasks
    from config.celery_app import app

    entry = settings.CELERY_BEAT_SCHEDULE["reconcile-ingestion"]
    assert entry["task"] in app.tasks
    assert entry["schedule"] <= 60
    fanned_out: list[str] = []
    monkeypatch.setattr(
        tasks.reconcile_ingestion_for_tenant, "delay", lambda schema_name: fanned_out.append(schema_name)
    )
    tasks.reconcile_ingestion_all_tenants()
    assert "alpha" in fanned_out
    assert "public" not in fanned_out


def test_an_upload_stands_when_the_broker_is_down_and_is_enqueued_by_the_reconciliation(
    owner, settings, monkeypatch, django_capture_on_commit_callbacks
):
    """Reliability pass, case 2: Redis down during an upload answered 500 after the commit, and the
    stored documents were never queued. The queued jobs in PostgreSQL are the outbox."""
    from kombu.exceptions import OperationalError

    from apps.ingestion import tasks

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    with monkeypatch.context() as patched:
        patched.setattr(tasks.ingest_jobs, "apply_async", broker_down)
        with django_capture_on_commit_callbacks(execute=True):
            job = document_upload(upload=UploadedFile("parking.md", TEXT), uploaded_by=owner)
    job.refresh_from_db()
    assert job.status == IngestionJob.Status.QUEUED  # stored, waiting, no error raised to the caller

    IngestionJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=2))
    assert ingestion_reconcile().requeued == 1  # the broker is back
    job.refresh_from_db()
    assert job.status == IngestionJob.Status.SUCCEEDED
