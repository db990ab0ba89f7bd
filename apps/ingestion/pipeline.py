"""The ingestion pipeline: parse -> text filters -> chunk -> embed -> store.

Several jobs run together so the embedder sees full batches. Each document is stored in its own
transaction, together with its job's success, so a crash leaves either the old searchable state or
the new one, and a retried job finds its work done instead of duplicating chunks. Problems with a
file fail only that job, with a reason; problems with our dependencies (database, embedder) are
transient and make the Celery task retry with backoff. The knowledge graph follows in its own
task after commit (graph_sync.py): a document is searchable by the dense and keyword legs as soon
as its job succeeds, and its `graph_status` says when the graph has caught up.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.module_loading import import_string

from apps.core.errors import PortalError
from apps.core.metrics import ingestion_job_seconds, ingestion_jobs_total, tenant_label
from apps.documents.models import Document
from apps.documents.services import ChunkToStore, document_index_replace, document_mark_failed
from apps.integrations.embeddings.base import EmbeddingError
from apps.integrations.embeddings.factory import embedder
from apps.integrations.keyword.analyzer import term_frequencies
from apps.tenants.context import current_tenant_schema

from .chunking import ChunkDraft, chunk_document
from .models import IngestionJob
from .parsing import DocumentRejected, ParsedDocument, ParseLimits, parse_document
from .signals import job_progressed

logger = logging.getLogger(__name__)

EMBEDDING_SLICE = 256  # chunks embedded between two progress updates


class TransientIngestionError(PortalError):
    """A dependency failed; the same jobs should run again later."""


@dataclass
class PreparedDocument:
    job: IngestionJob
    parsed: ParsedDocument
    drafts: list[ChunkDraft]
    vectors: np.ndarray | None = None


@dataclass(frozen=True)
class IngestionRun:
    jobs: list[IngestionJob]
    stored_document_ids: list[int]


def ingestion_jobs_run(*, job_ids: Sequence[str]) -> IngestionRun:
    """Run the jobs that are not finished yet; returns them in their final state."""
    jobs = _claim(job_ids)
    if not jobs:
        return IngestionRun(jobs=[], stored_document_ids=[])
    prepared = [item for item in (_prepare(job) for job in jobs) if item is not None]
    _embed(prepared)
    stored = [item.job.document_id for item in prepared if _store(item) and item.job.document_id]
    final = list(IngestionJob.objects.filter(pk__in=[job.pk for job in jobs]))
    return IngestionRun(jobs=final, stored_document_ids=stored)


def _claim(job_ids: Sequence[str]) -> list[IngestionJob]:
    now = timezone.now()
    # A job found running was interrupted (a worker died): it runs again, counted as another attempt.
    IngestionJob.objects.filter(
        pk__in=job_ids, status__in=[IngestionJob.Status.QUEUED, IngestionJob.Status.RUNNING]
    ).update(status=IngestionJob.Status.RUNNING, attempts=F("attempts") + 1, started_at=Coalesce("started_at", now))
    return list(
        IngestionJob.objects.filter(pk__in=job_ids, status=IngestionJob.Status.RUNNING)
        .select_related("version", "document")
        .order_by("queued_at")
    )


def _progress(job: IngestionJob, *, stage: str, progress: float) -> None:
    job.stage, job.progress = stage, progress
    IngestionJob.objects.filter(pk=job.pk).update(stage=stage, progress=progress)
    job_progressed.send(
        sender=IngestionJob,
        schema_name=current_tenant_schema(),
        job_id=str(job.pk),
        status=job.status,
        stage=stage,
        progress=progress,
        error_message="",
    )


@contextmanager
def _timed(job: IngestionJob, stage: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    job.timings[stage] = round(job.timings.get(stage, 0.0) + time.perf_counter() - started, 4)


def _prepare(job: IngestionJob) -> PreparedDocument | None:
    version = job.version
    if version is None or job.document is None:
        _fail(job, code="missing_upload", reason="The uploaded file is no longer available.")
        return None
    try:
        with _timed(job, "parse"):
            parsed = parse_document(
                data=bytes(version.content),
                filename=version.filename,
                declared_media_type=version.declared_media_type or None,
                limits=ParseLimits.from_settings(),
            )
        with _timed(job, "chunk"):
            drafts = chunk_document(
                document=parsed,
                max_tokens=settings.CHUNK_MAX_TOKENS,
                overlap_tokens=settings.CHUNK_OVERLAP_TOKENS,
                count_tokens=embedder().count_tokens,
            )
            drafts = _apply_text_filters(drafts)
    except DocumentRejected as rejected:
        _fail(job, code=type(rejected).__name__, reason=rejected.reason)
        return None
    if not drafts:
        _fail(job, code="EmptyDocument", reason="The file contains no text to index.")
        return None
    _progress(job, stage="embedding", progress=0.2)
    return PreparedDocument(job=job, parsed=parsed, drafts=drafts)


def _apply_text_filters(drafts: list[ChunkDraft]) -> list[ChunkDraft]:
    """Tenant text policies (PII redaction, ...) named in settings, applied before anything is stored."""
    for dotted_path in settings.INGESTION_TEXT_FILTERS:
        text_filter = import_string(dotted_path)
        drafts = [text_filter(draft) for draft in drafts]
    return [draft for draft in drafts if draft.text.strip()]


def _embed(prepared: list[PreparedDocument]) -> None:
    texts = [draft.text for item in prepared for draft in item.drafts]
    owners = [item for item in prepared for _ in item.drafts]
    vectors: list[np.ndarray] = []
    started = time.perf_counter()
    try:
        for start in range(0, len(texts), EMBEDDING_SLICE):
            vectors.append(embedder().embed_documents(texts[start : start + EMBEDDING_SLICE]))
            done = min(start + EMBEDDING_SLICE, len(texts))
            for item in {id(owner): owner for owner in owners[start:done]}.values():
                _progress(item.job, stage="embedding", progress=round(0.2 + 0.6 * done / max(len(texts), 1), 3))
    except EmbeddingError as error:
        if error.transient:
            raise TransientIngestionError(f"embedding service unavailable: {error}") from error
        for item in prepared:
            _fail(item.job, code="embedding_failed", reason=f"The text could not be embedded: {error}")
        prepared.clear()
        return
    elapsed = time.perf_counter() - started
    matrix = np.vstack(vectors) if vectors else np.zeros((0, settings.EMBEDDING_DIMENSIONS), dtype=np.float32)
    offset = 0
    for item in prepared:
        item.vectors = matrix[offset : offset + len(item.drafts)]
        offset += len(item.drafts)
        # Shared batches: charge each document its share of the embedding time.
        item.job.timings["embed"] = round(elapsed * len(item.drafts) / max(len(texts), 1), 4)


def _store(item: PreparedDocument) -> bool:
    """Store one document with its job's success; False when nothing was stored."""
    job = item.job
    assert item.vectors is not None
    assert job.document is not None
    assert job.version is not None
    chunks = [
        ChunkToStore(
            ordinal=draft.ordinal,
            text=draft.text,
            heading_path=list(draft.heading_path),
            char_start=draft.char_start,
            char_end=draft.char_end,
            token_count=draft.token_count,
            embedding=vector.tolist(),
            term_frequencies=term_frequencies(draft.text),
        )
        for draft, vector in zip(item.drafts, item.vectors, strict=True)
    ]
    try:
        store_started = time.perf_counter()
        with transaction.atomic():
            locked = IngestionJob.objects.select_for_update().get(pk=job.pk)
            if locked.status != IngestionJob.Status.RUNNING:
                return False  # another delivery of the same job finished it first
            if _superseded(job):
                _finish(
                    job, status=IngestionJob.Status.SKIPPED, code="superseded", reason="A newer version was indexed."
                )
                return False
            count = document_index_replace(
                document=job.document,
                version=job.version,
                chunks=chunks,
                embedding_model=embedder().model_name,
                media_type=item.parsed.media_type,
                title=None if job.document.title != job.version.filename.rsplit("/", 1)[-1] else item.parsed.title,
                metadata={"parse": item.parsed.metadata},
            )
            job.chunk_count = count
            job.timings["store"] = round(time.perf_counter() - store_started, 4)
            _finish(job, status=IngestionJob.Status.SUCCEEDED)
    except DatabaseError as error:
        raise TransientIngestionError(f"database unavailable while storing: {type(error).__name__}") from error
    return True


def _superseded(job: IngestionJob) -> bool:
    assert job.document is not None
    document = Document.objects.select_related("current_version").get(pk=job.document.pk)
    current = document.current_version
    return current is not None and job.version is not None and current.number > job.version.number


def _finish(job: IngestionJob, *, status: str, code: str = "", reason: str = "") -> None:
    job.status, job.error_code, job.error_message = status, code, reason
    job.stage, job.progress, job.finished_at = status, 1.0, timezone.now()
    job.save(
        update_fields=[
            "status",
            "error_code",
            "error_message",
            "stage",
            "progress",
            "finished_at",
            "timings",
            "chunk_count",
        ]
    )
    job_progressed.send(
        sender=IngestionJob,
        schema_name=current_tenant_schema(),
        job_id=str(job.pk),
        status=status,
        stage=status,
        progress=1.0,
        error_message=reason,
    )
    seconds, tenant = (job.finished_at - job.queued_at).total_seconds(), tenant_label(current_tenant_schema())
    # Counted once the state is committed: a rolled-back success is not a success.
    transaction.on_commit(lambda: _count_job(state=status, tenant=tenant, seconds=seconds))


def _count_job(*, state: str, tenant: str, seconds: float) -> None:
    ingestion_jobs_total.labels(state=state, tenant=tenant).inc()
    ingestion_job_seconds.labels(state=state).observe(seconds)


def _fail(job: IngestionJob, *, code: str, reason: str) -> None:
    _finish(job, status=IngestionJob.Status.FAILED, code=code, reason=reason)
    if job.document is not None:
        document_mark_failed(document=job.document)


def jobs_give_up(*, job_ids: Sequence[str], reason: str) -> None:
    """After the last retry: fail what is still unfinished, with the reason."""
    for job in IngestionJob.objects.filter(
        pk__in=job_ids, status__in=[IngestionJob.Status.QUEUED, IngestionJob.Status.RUNNING]
    ).select_related("document"):
        _fail(job, code="gave_up", reason=reason)


def jobs_note_retry(*, job_ids: Sequence[str], reason: str, countdown: float) -> None:
    retrying = IngestionJob.objects.filter(pk__in=job_ids, status=IngestionJob.Status.RUNNING).update(
        status=IngestionJob.Status.QUEUED, stage=f"retrying in {countdown:.0f}s", error_message=reason
    )
    ingestion_jobs_total.labels(state="retrying", tenant=tenant_label(current_tenant_schema())).inc(retrying)
