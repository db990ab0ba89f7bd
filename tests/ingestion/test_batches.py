"""Uploads and stores in batches: a whole upload's lookups and an embedding group's writes go
together, and every rule of the one-at-a-time path still holds inside a batch."""

from __future__ import annotations

import pytest
from auditlog.models import LogEntry

from apps.documents.acl import SUPERUSER, acl_for_document
from apps.documents.models import Chunk, Document, DocumentVersion
from apps.ingestion.models import IngestionJob
from apps.ingestion.pipeline import ingestion_jobs_run
from apps.ingestion.services import UploadedFile, documents_upload
from tests.documents.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.integration]


@pytest.fixture
def owner(in_alpha):
    return UserFactory()


def upload_all(owner, *files: tuple[str, bytes, str | None]) -> list[IngestionJob]:
    uploads = [UploadedFile(filename=name, data=data, external_id=external_id) for name, data, external_id in files]
    return documents_upload(uploads=uploads, uploaded_by=owner)


def run(jobs: list[IngestionJob]) -> list[IngestionJob]:
    ingestion_jobs_run(job_ids=[str(job.pk) for job in jobs])
    return [IngestionJob.objects.get(pk=job.pk) for job in jobs]


def test_identical_files_in_one_upload_are_indexed_once(owner):
    first, second, other = upload_all(
        owner,
        ("a.txt", b"Expenses need a receipt.", None),
        ("b.txt", b"Expenses need a receipt.", None),
        ("c.txt", b"Badges open the office doors.", None),
    )

    assert first.status == other.status == IngestionJob.Status.QUEUED
    assert second.status == IngestionJob.Status.SKIPPED
    assert second.error_code == "duplicate"
    assert second.document_id == first.document_id
    assert Document.objects.count() == 2


def test_two_versions_of_one_document_in_one_upload_are_stored_in_order(owner):
    jobs = upload_all(
        owner,
        ("leave.txt", b"Leave: 25 days a year.", "hr-leave"),
        ("leave.txt", b"Leave: 28 days a year.", "hr-leave"),
    )
    document = Document.objects.get(external_id="hr-leave")
    assert [job.version.number for job in jobs] == [1, 2]

    finished = run(jobs)  # both versions land in one embedding group

    assert [job.status for job in finished] == [IngestionJob.Status.SUCCEEDED] * 2
    document.refresh_from_db()
    assert document.current_version == DocumentVersion.objects.get(document=document, number=2)
    assert [chunk.text for chunk in Chunk.objects.filter(document=document)] == ["Leave: 28 days a year."]


def test_a_new_document_starts_with_its_owners_acl_and_one_audit_entry(owner):
    (job,) = upload_all(owner, ("security.txt", b"Lock your screen.", None))
    document = Document.objects.get(pk=job.document_id)

    assert document.acl == acl_for_document(document) == sorted([SUPERUSER, f"user:{owner.pk}"])
    assert LogEntry.objects.get_for_object(document).count() == 1


def test_a_job_another_delivery_finished_is_left_alone_while_its_group_is_stored(owner):
    done, fresh = upload_all(owner, ("a.txt", b"Refunds within 30 days.", None), ("b.txt", b"Onboarding week.", None))
    run([done])
    chunks_before = Chunk.objects.filter(document_id=done.document_id).count()
    # A redelivered task meets one job already finished and one still to do.
    IngestionJob.objects.filter(pk=fresh.pk).update(status=IngestionJob.Status.RUNNING)

    done_after, fresh_after = run([done, fresh])

    assert done_after.status == fresh_after.status == IngestionJob.Status.SUCCEEDED
    assert done_after.attempts == 1  # not claimed again
    assert Chunk.objects.filter(document_id=done.document_id).count() == chunks_before
    assert Chunk.objects.filter(document_id=fresh.document_id).exists()


def test_an_older_version_queued_behind_a_newer_one_is_skipped_without_touching_the_index(owner):
    old, new = upload_all(
        owner,
        ("p.txt", b"Policy v1: laptops.", "it-policy"),
        ("p.txt", b"Policy v2: laptops and phones.", "it-policy"),
    )
    run([new])

    (old_after,) = run([old])

    assert old_after.status == IngestionJob.Status.SKIPPED
    assert old_after.error_code == "superseded"
    texts = list(Chunk.objects.filter(document_id=new.document_id).values_list("text", flat=True))
    assert texts == ["Policy v2: laptops and phones."]
