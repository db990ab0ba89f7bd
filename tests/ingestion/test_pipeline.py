"""Uploads through the real pipeline: parse, chunk, embed (MiniLM ONNX), store, graph.

Celery runs eagerly in these tests; tests/ingestion/test_worker.py runs a real worker.
"""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import override_settings
from django_tenants.utils import schema_context

from apps.documents.acl import SUPERUSER, TENANT_WIDE
from apps.documents.models import Chunk, Document, KeywordPosting
from apps.ingestion.models import IngestionJob
from apps.ingestion.pipeline import TransientIngestionError, ingestion_jobs_run
from apps.ingestion.services import (
    UploadedFile,
    UploadRejected,
    document_replace,
    document_upload,
    documents_upload,
    jobs_per_task,
)
from apps.ingestion.signals import job_progressed
from apps.ingestion.tasks import ingest_jobs, retry_countdown
from apps.integrations.embeddings.factory import embedder
from tests.documents.factories import UserFactory
from tests.support.fake_embeddings_server import FakeEmbeddingsServer, Reply

from .documents_factory import docx_zip_bomb, encrypted_pdf, pdf_with_text

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

REFUNDS = b"""# Refund policy

Customers may request a full refund within 30 days of purchase.

## Exclusions

Delivered training days are not refundable.
"""


@pytest.fixture
def owner(in_alpha):
    return UserFactory()


def upload(owner, name: str, data: bytes, **kwargs) -> IngestionJob:
    return document_upload(upload=UploadedFile(filename=name, data=data), uploaded_by=owner, **kwargs)


def run_now(job: IngestionJob) -> IngestionJob:
    """What the Celery task does, run in-process (on_commit never fires inside a test transaction)."""
    ingestion_jobs_run(job_ids=[str(job.pk)])
    job.refresh_from_db()
    return job


def test_markdown_upload_is_chunked_embedded_and_indexed_with_acl(owner):
    job = run_now(upload(owner, "refunds.md", REFUNDS))

    assert job.status == IngestionJob.Status.SUCCEEDED, job.error_message
    assert job.attempts == 1
    assert job.progress == 1.0
    document = Document.objects.get(pk=job.document_id)
    assert document.status == Document.Status.INDEXED
    assert document.media_type == "text/markdown"
    chunks = list(Chunk.objects.filter(document=document).order_by("ordinal"))
    assert [chunk.heading_path for chunk in chunks] == [["Refund policy"], ["Refund policy", "Exclusions"]]
    assert all(len(chunk.embedding) == 384 for chunk in chunks)
    assert all(chunk.acl == sorted([f"user:{owner.pk}", SUPERUSER]) for chunk in chunks)
    assert KeywordPosting.objects.filter(chunk__document=document, term="refund").exists()
    assert job.chunk_count == len(chunks)


def test_visible_to_everyone_flag_reaches_the_chunks(owner):
    job = run_now(upload(owner, "handbook.txt", b"Welcome to the company handbook.", visible_to_tenant=True))
    assert all(
        TENANT_WIDE in acl for acl in Chunk.objects.filter(document_id=job.document_id).values_list("acl", flat=True)
    )


def test_a_retried_job_never_duplicates_chunks(owner):
    job = run_now(upload(owner, "refunds.md", REFUNDS))
    count = Chunk.objects.filter(document_id=job.document_id).count()

    # Redelivery of the same task (a worker died after committing, before acknowledging).
    ingestion_jobs_run(job_ids=[str(job.pk)])
    IngestionJob.objects.filter(pk=job.pk).update(status=IngestionJob.Status.RUNNING)
    ingestion_jobs_run(job_ids=[str(job.pk)])

    assert Chunk.objects.filter(document_id=job.document_id).count() == count


def test_duplicate_upload_is_skipped_not_reindexed(owner):
    first = run_now(upload(owner, "refunds.md", REFUNDS))
    second = upload(owner, "copy-of-refunds.md", REFUNDS)

    assert second.status == IngestionJob.Status.SKIPPED
    assert second.error_code == "duplicate"
    assert f"#{first.document_id}" in second.error_message
    assert Document.objects.count() == 1


def test_a_duplicate_of_a_document_the_uploader_cannot_see_is_not_revealed(owner):
    run_now(upload(owner, "refunds.md", REFUNDS))
    stranger = UserFactory()

    job = upload(stranger, "mine.md", REFUNDS)

    assert job.status == IngestionJob.Status.QUEUED
    assert Document.objects.count() == 2


def test_replacing_a_document_swaps_its_chunks_atomically(owner):
    job = run_now(upload(owner, "policy.txt", b"Old policy: refunds within 14 days."))
    document = Document.objects.get(pk=job.document_id)
    old_ids = set(Chunk.objects.filter(document=document).values_list("pk", flat=True))

    new_job = document_replace(
        document=document,
        upload=UploadedFile(filename="policy.txt", data=b"New policy: refunds within 30 days."),
        uploaded_by=owner,
    )
    assert new_job.status == IngestionJob.Status.QUEUED
    # Until the new version is indexed, search still sees the old one.
    assert set(Chunk.objects.filter(document=document).values_list("pk", flat=True)) == old_ids
    run_now(new_job)

    texts = list(Chunk.objects.filter(document=document).values_list("text", flat=True))
    assert any("30 days" in text for text in texts)
    assert not any("14 days" in text for text in texts)
    document.refresh_from_db()
    assert document.current_version.number == 2


def test_replacing_with_identical_content_is_skipped(owner):
    job = run_now(upload(owner, "policy.txt", b"Same text."))
    document = Document.objects.get(pk=job.document_id)
    again = document_replace(
        document=document, upload=UploadedFile(filename="policy.txt", data=b"Same text."), uploaded_by=owner
    )
    assert again.status == IngestionJob.Status.SKIPPED
    assert again.error_code == "unchanged"


# --- bad input: a clear reason or a 4xx-style rejection, and nothing else changes ---------------


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("empty.txt", b"", "empty_file"),
        ("", b"text", "invalid_filename"),
    ],
)
def test_uploads_rejected_before_anything_is_stored(owner, name, data, code):
    with pytest.raises(UploadRejected) as rejected:
        upload(owner, name, data)
    assert rejected.value.code == code
    assert not Document.objects.exists()
    assert not IngestionJob.objects.exists()


@override_settings(INGESTION_MAX_UPLOAD_BYTES=1024)
def test_a_file_over_the_limit_is_rejected_with_its_size(owner):
    with pytest.raises(UploadRejected, match="limit is") as rejected:
        upload(owner, "huge.txt", b"x" * 2048)
    assert rejected.value.code == "file_too_large"
    assert not Document.objects.exists()


def test_one_bad_file_in_a_batch_rejects_the_whole_batch(owner):
    uploads = [UploadedFile(filename="ok.txt", data=b"fine"), UploadedFile(filename="empty.txt", data=b"")]
    with pytest.raises(UploadRejected):
        documents_upload(uploads=uploads, uploaded_by=owner)
    assert not Document.objects.exists()


@pytest.mark.parametrize(
    ("name", "data", "code", "reason_part"),
    [
        ("garbage.txt", bytes(range(256)) * 40, "UnsupportedDocument", ""),
        ("broken.pdf", b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog", "CorruptDocument", ""),
        ("secret.pdf", None, "EncryptedDocument", "password"),
        ("bomb.docx", None, "UnsafeDocument", ""),
        ("blank.txt", b" \n\t\n   \r\n", "EmptyDocument", ""),
    ],
)
def test_bad_files_fail_their_job_with_a_reason_and_index_nothing(owner, name, data, code, reason_part):
    if name == "secret.pdf":
        data = encrypted_pdf(user_password="s3cret", pages=["Confidential"])
    if name == "bomb.docx":
        data = docx_zip_bomb()
    job = run_now(upload(owner, name, data))

    assert job.status == IngestionJob.Status.FAILED
    assert job.error_code == code, job.error_message
    assert job.error_message
    assert reason_part in job.error_message.lower()
    assert not Chunk.objects.filter(document_id=job.document_id).exists()
    assert Document.objects.get(pk=job.document_id).status == Document.Status.FAILED


def test_invalid_utf8_is_decoded_safely_and_indexed(owner):
    job = run_now(upload(owner, "notes.txt", b"Caf\xe9 opening hours: 8 to 18. Invalid \xff\xfe bytes here."))
    assert job.status == IngestionJob.Status.SUCCEEDED, job.error_message
    assert "Caf" in Chunk.objects.get(document_id=job.document_id).text


def test_pdf_text_is_indexed(owner):
    job = run_now(upload(owner, "travel.pdf", pdf_with_text(pages=["Hotel costs are reimbursed up to 180 EUR."])))
    assert job.status == IngestionJob.Status.SUCCEEDED, job.error_message
    assert "180" in Chunk.objects.get(document_id=job.document_id).text


# --- transient failures, atomicity ----------------------------------------------------------------


def test_a_crash_while_storing_leaves_no_half_indexed_document_and_the_retry_completes(owner):
    job = upload(owner, "refunds.md", REFUNDS)
    # A real database failure in the middle of the store transaction (after the chunks were inserted).
    with connection.cursor() as cursor:
        cursor.execute("""
            CREATE FUNCTION fail_posting() RETURNS trigger AS $$
            BEGIN RAISE EXCEPTION 'disk full (simulated)'; END $$ LANGUAGE plpgsql;
            CREATE TRIGGER fail_posting BEFORE INSERT ON documents_keywordposting
            FOR EACH ROW EXECUTE FUNCTION fail_posting();
        """)
    with pytest.raises(TransientIngestionError):
        ingestion_jobs_run(job_ids=[str(job.pk)])

    assert not Chunk.objects.filter(document_id=job.document_id).exists()
    assert Document.objects.get(pk=job.document_id).status == Document.Status.PENDING

    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER fail_posting ON documents_keywordposting; DROP FUNCTION fail_posting();")
    job = run_now(job)
    assert job.status == IngestionJob.Status.SUCCEEDED
    assert job.attempts == 2
    assert Chunk.objects.filter(document_id=job.document_id).count() == 2


def test_retry_countdown_grows_exponentially_and_is_bounded(settings):
    settings.INGESTION_RETRY_BACKOFF_SECONDS = 2.0
    settings.INGESTION_RETRY_BACKOFF_MAX_SECONDS = 30.0
    countdowns = [retry_countdown(retries) for retries in range(8)]
    assert 1.6 <= countdowns[0] <= 2.4
    assert 6.4 <= countdowns[2] <= 9.6
    assert all(value <= 36.0 for value in countdowns)


def _remote_embedder(settings, server: FakeEmbeddingsServer) -> None:
    settings.EMBEDDER_BACKEND = "apps.integrations.embeddings.remote.OpenAICompatibleEmbedder"
    settings.REMOTE_EMBEDDINGS_URL = server.url
    settings.REMOTE_EMBEDDINGS_TIMEOUT = 2.0


def test_embedding_outage_retries_with_backoff_then_succeeds(owner, settings):
    failures = [Reply(status=503)] * 6  # more than the embedder's own 5 quick attempts
    with FakeEmbeddingsServer(script=failures) as server:
        _remote_embedder(settings, server)
        job = upload(owner, "refunds.md", REFUNDS)
        # throw=False: eager mode then performs the retries, as a worker would.
        ingest_jobs.apply(kwargs={"schema_name": "alpha", "job_ids": [str(job.pk)]}, throw=False)

    job.refresh_from_db()
    assert job.status == IngestionJob.Status.SUCCEEDED, job.error_message
    assert job.attempts >= 2


def test_embedding_outage_that_never_ends_fails_the_job_with_a_reason(owner, settings):
    settings.INGESTION_MAX_ATTEMPTS = 2
    with FakeEmbeddingsServer(script=[Reply(status=503)] * 100) as server:
        _remote_embedder(settings, server)
        job = upload(owner, "refunds.md", REFUNDS)
        # throw=False: eager mode then performs the retries, as a worker would.
        ingest_jobs.apply(kwargs={"schema_name": "alpha", "job_ids": [str(job.pk)]}, throw=False)

    job.refresh_from_db()
    assert job.status == IngestionJob.Status.FAILED
    assert job.error_code == "gave_up"
    assert "Gave up after 2 attempts" in job.error_message
    assert not Chunk.objects.filter(document_id=job.document_id).exists()


def _documents(count: int) -> list[UploadedFile]:
    return [
        UploadedFile(filename=f"policy-{number}.md", data=f"# Policy {number}\n\nRule {number} applies.\n".encode())
        for number in range(count)
    ]


def test_an_embedding_rejection_fails_only_its_own_group(owner, settings, monkeypatch):
    # One document per embedding group; the second group's request is refused as a bad request.
    monkeypatch.setattr("apps.ingestion.pipeline.EMBEDDING_GROUP_CHUNKS", 1)
    with FakeEmbeddingsServer(script=[Reply(), Reply(status=400, body={"error": {"message": "bad input"}})]) as server:
        _remote_embedder(settings, server)
        jobs = documents_upload(uploads=_documents(3), uploaded_by=owner)
        ingestion_jobs_run(job_ids=[str(job.pk) for job in jobs])

    finished = IngestionJob.objects.filter(pk__in=[job.pk for job in jobs])
    states = {job.filename: (job.status, job.error_code) for job in finished}
    assert states == {
        "policy-0.md": (IngestionJob.Status.SUCCEEDED, ""),
        "policy-1.md": (IngestionJob.Status.FAILED, "embedding_failed"),
        "policy-2.md": (IngestionJob.Status.SUCCEEDED, ""),
    }
    indexed = {job.filename: Chunk.objects.filter(document_id=job.document_id).count() for job in finished}
    assert indexed["policy-1.md"] == 0
    assert indexed["policy-0.md"] > 0
    assert indexed["policy-2.md"] > 0


def test_a_long_document_reports_embedding_progress_between_slices(owner, monkeypatch):
    monkeypatch.setattr("apps.ingestion.pipeline.EMBEDDING_SLICE", 2)
    clauses = [f"## Section {number}\n\n" + f"Clause {number} of the handbook. " * 120 for number in range(4)]
    sections = "\n\n".join(clauses)
    job = upload(owner, "handbook.md", f"# Handbook\n\n{sections}".encode())
    seen: list[float] = []

    def record(*, stage: str, progress: float, **_kwargs) -> None:
        if stage == "embedding":
            seen.append(progress)

    job_progressed.connect(record, dispatch_uid="test-progress")
    try:
        job = run_now(job)
    finally:
        job_progressed.disconnect(dispatch_uid="test-progress")

    assert job.status == IngestionJob.Status.SUCCEEDED, job.error_message
    assert Chunk.objects.filter(document_id=job.document_id).count() > 4
    assert seen[0] == 0.2
    assert seen[-1] == 0.8
    assert len(seen) > 3
    assert seen == sorted(seen)


def test_vectors_embedded_in_the_embedding_thread_are_cached_under_the_tenant(owner):
    job = run_now(upload(owner, "refunds.md", REFUNDS))
    text = Chunk.objects.filter(document_id=job.document_id).values_list("text", flat=True).first()
    key = embedder().cache_key(text)

    assert cache.get(key) is not None
    with schema_context("beta"):
        assert cache.get(key) is None


@pytest.mark.parametrize(
    ("jobs", "per_task"),
    [(1, 16), (40, 16), (100, 25), (512, 128), (5000, 128)],
)
def test_uploads_are_spread_over_a_few_tasks_but_tasks_stay_big(settings, jobs, per_task):
    settings.INGESTION_JOBS_PER_TASK = 128
    assert jobs_per_task(jobs) == per_task


@override_settings(INGESTION_MAX_TABLE_ROWS=10)
def test_a_table_indexed_in_part_succeeds_with_a_warning_the_uploader_sees(owner):
    """Reliability pass, case 7: a 1M-row CSV 'succeeded' with 100,000 rows indexed and said nothing."""
    rows = "\n".join(f"item {n},{n * 3}" for n in range(30))
    job = run_now(upload(owner, "prices.csv", f"item,price\n{rows}\n".encode()))

    assert job.status == IngestionJob.Status.SUCCEEDED
    assert job.error_code == "truncated"
    assert "only the first 10 rows were indexed" in job.error_message
    document = Document.objects.get(pk=job.document_id)
    assert document.metadata["parse"]["truncated"] is True
    indexed = " ".join(Chunk.objects.filter(document=document).values_list("text", flat=True))
    assert "item 9" in indexed
    assert "item 10" not in indexed


def test_a_whole_table_succeeds_without_a_warning(owner):
    job = run_now(upload(owner, "small.csv", b"item,price\npen,2\nbook,12\n"))

    assert (job.status, job.error_code, job.error_message) == (IngestionJob.Status.SUCCEEDED, "", "")
