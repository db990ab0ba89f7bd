"""Uploads: validate, store the bytes and a job in one transaction, enqueue after commit.

The upload service lives in ingestion (not documents) so documents never imports ingestion.
Size and emptiness are refused at once, before anything is written (a 4xx for the API); problems
found while parsing fail the job with a reason instead.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from itertools import chain

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerOperationalError
from redis.exceptions import RedisError

from apps.accounts.models import User
from apps.core.errors import PortalError
from apps.documents.models import Document, DocumentVersion
from apps.documents.selectors import documents_visible_to
from apps.documents.services import document_create, document_version_add

from .models import IngestionJob
from .personal_data import IngestionPiiPolicy, pii_policy_name

logger = logging.getLogger(__name__)
# The broker (Redis) unreachable or failing while a task is sent.
BROKER_ERRORS = (BrokerOperationalError, RedisError, ConnectionError, TimeoutError)


class UploadRejected(PortalError):
    """The upload itself is unacceptable; nothing was stored."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class UploadedFile:
    filename: str
    data: bytes
    declared_media_type: str = ""
    title: str | None = None
    external_id: str | None = None
    metadata: dict | None = None


def _check_upload(upload: UploadedFile) -> None:
    if not upload.filename or len(upload.filename) > 1000:
        raise UploadRejected("invalid_filename", "A file name of 1 to 1000 characters is required.")
    if not upload.data:
        raise UploadRejected("empty_file", f"{upload.filename!r} is empty.")
    limit = settings.INGESTION_MAX_UPLOAD_BYTES
    if len(upload.data) > limit:
        raise UploadRejected(
            "file_too_large",
            f"{upload.filename!r} is {len(upload.data) / 1_048_576:.1f} MB; the limit is {limit / 1_048_576:.0f} MB.",
        )


def _visible_duplicates(*, uploaded_by: User | None, digests: Iterable[str]) -> dict[str, Document]:
    """Per content hash, the first indexed or in-flight document with those bytes the uploader can see.

    Documents the uploader cannot see are not reported (that would reveal they exist); the new
    upload is then indexed as the uploader's own document. Two queries for a whole batch.
    """
    digests = list(set(digests))
    visible = Document.objects.all() if uploaded_by is None else documents_visible_to(user=uploaded_by)
    indexed = visible.filter(content_hash__in=digests, status=Document.Status.INDEXED).values_list("content_hash", "pk")
    in_flight = DocumentVersion.objects.filter(
        content_hash__in=digests,
        ingestion_jobs__status__in=[IngestionJob.Status.QUEUED, IngestionJob.Status.RUNNING],
        document__in=visible,
    ).values_list("content_hash", "document_id")
    first: dict[str, int] = {}
    for digest, pk in chain(indexed, in_flight):
        first[digest] = min(pk, first.get(digest, pk))
    documents = Document.objects.in_bulk(set(first.values()))
    return {digest: documents[pk] for digest, pk in first.items()}


def _skipped_job(*, upload: UploadedFile, uploaded_by: User | None, document: Document, code: str, reason: str):
    now = timezone.now()
    return IngestionJob.objects.create(
        document=document,
        filename=upload.filename[:1000],
        size_bytes=len(upload.data),
        content_hash=hashlib.sha256(upload.data).hexdigest(),
        status=IngestionJob.Status.SKIPPED,
        stage="skipped",
        progress=1.0,
        error_code=code,
        error_message=reason,
        created_by=uploaded_by,
        started_at=now,
        finished_at=now,
    )


def _queued_job(*, upload: UploadedFile, uploaded_by: User | None, document: Document, version: DocumentVersion):
    """Unsaved: the batch's queued jobs are inserted together (nothing audits or listens to each)."""
    return IngestionJob(
        document=document,
        version=version,
        filename=upload.filename[:1000],
        size_bytes=len(upload.data),
        content_hash=version.content_hash,
        status=IngestionJob.Status.QUEUED,
        stage="queued",
        created_by=uploaded_by,
    )


class _UploadBatch:
    """One transaction's uploads, looked up together: external ids and duplicates in a few queries
    for the whole batch instead of several per file. Uploads earlier in the batch count as in
    flight for later ones, as they would in separate transactions."""

    def __init__(
        self, *, uploads: Sequence[UploadedFile], digests: list[str], uploaded_by: User | None, visible_to_tenant: bool
    ) -> None:
        self.uploaded_by, self.visible_to_tenant = uploaded_by, visible_to_tenant
        self.digests = digests
        external_ids = {upload.external_id for upload in uploads if upload.external_id}
        self.by_external_id = {
            document.external_id: document for document in Document.objects.filter(external_id__in=external_ids)
        }
        self.duplicates = _visible_duplicates(uploaded_by=uploaded_by, digests=self.digests)
        self.pii_policy = IngestionPiiPolicy.of_tenant(connection.schema_name)  # type: ignore[attr-defined]

    def upload(self, upload: UploadedFile, digest: str) -> IngestionJob:
        # The names people see (document, version, job, change log) follow the PII policy too: a file
        # named after a phone number must not show it when its text is masked.
        upload = replace(
            upload,
            filename=pii_policy_name(upload.filename, self.pii_policy),
            title=pii_policy_name(upload.title, self.pii_policy) if upload.title else upload.title,
        )
        existing = self.by_external_id.get(upload.external_id) if upload.external_id else None
        if existing is not None:
            job = _new_version_or_skip(document=existing, upload=upload, uploaded_by=self.uploaded_by, digest=digest)
        elif (duplicate := self.duplicates.get(digest)) is not None:
            reason = f"Skipped: the same content is already in document #{duplicate.pk} ({duplicate.title!r})."
            return _skipped_job(
                upload=upload, uploaded_by=self.uploaded_by, document=duplicate, code="duplicate", reason=reason
            )
        else:
            document = document_create(
                uploaded_by=self.uploaded_by,
                title=upload.title or upload.filename.rsplit("/", 1)[-1],
                source=upload.filename,
                visible_to_tenant=self.visible_to_tenant,
                external_id=upload.external_id,
                metadata=upload.metadata,
            )
            if upload.external_id:
                self.by_external_id[upload.external_id] = document
            job = _version_queued(document=document, upload=upload, uploaded_by=self.uploaded_by, new_document=True)
        if job.status == IngestionJob.Status.QUEUED:
            assert job.document is not None
            known = self.duplicates.get(digest)
            if known is None or job.document.pk < known.pk:
                self.duplicates[digest] = job.document
        return job


def _version_queued(
    *, document: Document, upload: UploadedFile, uploaded_by: User | None, new_document: bool = False
) -> IngestionJob:
    """Store the upload as the document's next version, with a queued job (unsaved) for it."""
    version = document_version_add(
        document=document,
        filename=upload.filename,
        data=upload.data,
        declared_media_type=upload.declared_media_type,
        uploaded_by=uploaded_by,
        new_document=new_document,
    )
    return _queued_job(upload=upload, uploaded_by=uploaded_by, document=document, version=version)


def _new_version_or_skip(*, document: Document, upload: UploadedFile, uploaded_by: User | None, digest: str):
    if document.content_hash == digest and document.status == Document.Status.INDEXED:
        reason = f"Skipped: document #{document.pk} already holds exactly this content."
        return _skipped_job(upload=upload, uploaded_by=uploaded_by, document=document, code="unchanged", reason=reason)
    return _version_queued(document=document, upload=upload, uploaded_by=uploaded_by)


def _upload_keys_lock(*, digests: Iterable[str], external_ids: Iterable[str | None]) -> None:
    """Make "is this already here?" and the insert one atomic step for each content and external id.

    Two uploads of one new file at the same moment both looked, found nothing, and both inserted.
    A unique index cannot say what a duplicate is here (it depends on what the uploader may see:
    the same bytes are rightly two documents for two people who cannot see each other's), so each
    upload takes PostgreSQL transaction-scoped advisory locks on its contents' hashes and external
    ids before it looks: a concurrent upload of the same file waits for this commit, then finds the
    document. Keys are taken in sorted order, so two batches never wait on each other in a circle;
    the tenant's schema is part of each key, so tenants never wait on each other.
    """
    schema_name = connection.schema_name  # type: ignore[attr-defined]
    names = {f"sha256:{digest}" for digest in digests}
    names |= {f"external-id:{external_id}" for external_id in external_ids if external_id}
    keys = sorted(_advisory_key(f"{schema_name}/{name}") for name in names)
    with connection.cursor() as cursor:
        cursor.executemany("SELECT pg_advisory_xact_lock(%s)", [(key,) for key in keys])


def _advisory_key(name: str) -> int:
    """A signed 64-bit key, as pg_advisory_xact_lock(bigint) takes."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def documents_upload(
    *, uploads: Sequence[UploadedFile], uploaded_by: User | None, visible_to_tenant: bool = False, enqueue: bool = True
) -> list[IngestionJob]:
    """Store every upload and its job in one transaction, then enqueue the jobs in batches.

    Raises UploadRejected for the first unacceptable file; then nothing at all is stored.
    `enqueue=False` leaves the jobs queued for a caller that runs them itself (manage.py ingest).
    """
    for upload in uploads:
        _check_upload(upload)
    digests = [hashlib.sha256(upload.data).hexdigest() for upload in uploads]
    with transaction.atomic():
        _upload_keys_lock(digests=digests, external_ids=[upload.external_id for upload in uploads])
        batch = _UploadBatch(
            uploads=uploads, digests=digests, uploaded_by=uploaded_by, visible_to_tenant=visible_to_tenant
        )
        jobs = [batch.upload(upload, digest) for upload, digest in zip(uploads, batch.digests, strict=True)]
        queued = [job for job in jobs if job.status == IngestionJob.Status.QUEUED]
        IngestionJob.objects.bulk_create(queued)
        schema_name = connection.schema_name  # type: ignore[attr-defined]
        if enqueue and queued:
            transaction.on_commit(lambda: jobs_enqueue_after_commit(schema_name=schema_name, jobs=queued))
    return jobs


def document_upload(*, upload: UploadedFile, uploaded_by: User | None, visible_to_tenant: bool = False) -> IngestionJob:
    return documents_upload(uploads=[upload], uploaded_by=uploaded_by, visible_to_tenant=visible_to_tenant)[0]


def document_replace(*, document: Document, upload: UploadedFile, uploaded_by: User | None) -> IngestionJob:
    """A new version of an existing document; its chunks are swapped atomically when indexed."""
    _check_upload(upload)
    digest = hashlib.sha256(upload.data).hexdigest()
    with transaction.atomic():
        _upload_keys_lock(digests=[digest], external_ids=[upload.external_id])
        job = _new_version_or_skip(document=document, upload=upload, uploaded_by=uploaded_by, digest=digest)
        if job.status == IngestionJob.Status.QUEUED:
            job.save(force_insert=True)
            schema_name = connection.schema_name  # type: ignore[attr-defined]
            transaction.on_commit(lambda: jobs_enqueue_after_commit(schema_name=schema_name, jobs=[job]))
    return job


def jobs_enqueue_after_commit(*, schema_name: str, jobs: Sequence[IngestionJob]) -> None:
    """Enqueue once the upload is committed. If the broker cannot be reached the upload still
    stands (it is stored, and its jobs are queued in PostgreSQL, which is the outbox): the caller
    gets its jobs, and the reconciliation enqueues them once they have waited
    INGESTION_STALE_AFTER_SECONDS (apps/ingestion/reconcile.py). Failing the request here, after the
    commit, told the client its upload failed while it was stored, and its retry was then skipped
    as a duplicate of jobs that would never run."""
    try:
        jobs_enqueue(schema_name=schema_name, jobs=jobs)
    except BROKER_ERRORS as error:
        logger.warning(
            "could not enqueue %d ingestion jobs (%s); the reconciliation will",
            len(jobs),
            type(error).__name__,
            extra={"tenant_schema": schema_name},
        )


def jobs_enqueue(*, schema_name: str, jobs: Sequence[IngestionJob]) -> None:
    """Send jobs to the ingestion queue, several per task so embedding batches stay full."""
    from .tasks import ingest_jobs

    batch_size = jobs_per_task(len(jobs))
    for start in range(0, len(jobs), batch_size):
        job_ids = [str(job.pk) for job in jobs[start : start + batch_size]]
        task_id = str(uuid.uuid4())
        IngestionJob.objects.filter(pk__in=job_ids).update(celery_task_id=task_id, heartbeat_at=timezone.now())
        ingest_jobs.apply_async(kwargs={"schema_name": schema_name, "job_ids": job_ids}, task_id=task_id)


# A middling upload is still spread over a few tasks, so several worker processes share it.
SPREAD_OVER_TASKS = 4
MIN_JOBS_PER_TASK = 16


def jobs_per_task(job_count: int) -> int:
    """Big tasks keep a worker's embedding thread busy between documents (each task starts and ends
    with a stretch where only parsing or storing runs), but no more than INGESTION_JOBS_PER_TASK."""
    spread = -(-job_count // SPREAD_OVER_TASKS)  # ceil
    return max(1, min(settings.INGESTION_JOBS_PER_TASK, max(MIN_JOBS_PER_TASK, spread)))
