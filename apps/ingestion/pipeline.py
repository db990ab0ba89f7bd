"""The ingestion pipeline: parse -> PII policy -> chunk -> text filters (INGESTION_TEXT_FILTERS) -> embed -> store.

Several jobs run together so the embedder sees full batches. Each embedding group's documents are
stored in one transaction, together with their jobs' success, so a crash leaves either the old
searchable state or the new one, and a retried job finds its work done instead of duplicating
chunks. Problems with a file fail only that job, with a reason; problems with our dependencies (database, embedder) are
transient and make the Celery task retry with backoff. The knowledge graph follows in its own
task after commit (graph_sync.py): a document is searchable by the dense and keyword legs as soon
as its job succeeds, and its `graph_status` says when the graph has caught up.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.core.errors import PortalError
from apps.core.metrics import ingestion_job_seconds, ingestion_jobs_total, tenant_label
from apps.documents.services import (
    ChunkToStore,
    DocumentIndexUpdate,
    document_mark_failed,
    documents_index_replace,
)
from apps.integrations.embeddings.base import EmbeddingError
from apps.integrations.embeddings.factory import embedder
from apps.tenants.context import current_tenant_schema
from apps.text.analyzer import term_frequencies

from .chunking import ChunkDraft
from .models import IngestionJob
from .parsing import DocumentRejected, ParsedDocument
from .personal_data import IngestionPiiPolicy, pii_policy_applied
from .preparation import chunk_drafts, parsed_upload, truncation_warning
from .signals import job_progressed

logger = logging.getLogger(__name__)

# Chunks embedded (and then stored) together. The embedder sorts a call's texts by length so each
# model run pads little: on SciFact, groups of 16 chunks padded 4.3% more tokens than the raw
# embedder's 256-text calls, groups of 64 only 1.6%. While one worker's embedding thread waits for a
# task's first group, the other worker and the graph take the core, so a larger group costs little.
EMBEDDING_GROUP_CHUNKS = 64
# Groups queued for the embedding thread while this thread stores one (2 measured no better, and slower).
GROUPS_AHEAD = 1
EMBEDDING_SLICE = 256  # a long document's chunks embedded between two progress updates


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
    stored = _prepare_embed_store(jobs)
    final = list(IngestionJob.objects.filter(pk__in=[job.pk for job in jobs]))
    return IngestionRun(jobs=final, stored_document_ids=stored)


def _prepare_embed_store(jobs: Sequence[IngestionJob]) -> list[int]:
    """The jobs' documents, parsed, embedded and stored; the ids of the documents stored.

    Embedding runs in a thread of its own while this thread parses, chunks and stores: the model
    releases the GIL, so one group of documents embeds while the group before it is stored and the
    group after it is prepared, and the embedding core never waits for the database.
    """
    stored: list[int] = []
    in_flight: deque[tuple[list[PreparedDocument], list[Future[EmbeddedTexts]]]] = deque()
    tenant = connection.tenant  # type: ignore[attr-defined]
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="embedding") as embedding:
        try:
            for group in _prepared_groups(jobs):
                texts = [draft.text for item in group for draft in item.drafts]
                slices = [texts[start : start + EMBEDDING_SLICE] for start in range(0, len(texts), EMBEDDING_SLICE)]
                in_flight.append((group, [embedding.submit(_embedded_in_tenant, tenant, part) for part in slices]))
                while len(in_flight) > GROUPS_AHEAD:
                    stored += _store_group(*in_flight.popleft())
            while in_flight:
                stored += _store_group(*in_flight.popleft())
        except BaseException:
            for _group, futures in in_flight:
                for future in futures:
                    future.cancel()  # no point embedding what will not be stored in this attempt
            raise
    return stored


def _prepared_groups(jobs: Sequence[IngestionJob]) -> Iterator[list[PreparedDocument]]:
    """Prepared documents, a group at a time, each group about EMBEDDING_GROUP_CHUNKS chunks."""
    group: list[PreparedDocument] = []
    chunks = 0
    pii_policy = IngestionPiiPolicy.of_tenant(current_tenant_schema())
    for job in jobs:
        item = _prepare(job, pii_policy)
        if item is None:
            continue
        group.append(item)
        chunks += len(item.drafts)
        if chunks >= EMBEDDING_GROUP_CHUNKS:
            _progress([item.job for item in group], stage="embedding", progress=0.2)
            yield group
            group, chunks = [], 0
    if group:
        _progress([item.job for item in group], stage="embedding", progress=0.2)
        yield group


def _claim(job_ids: Sequence[str]) -> list[IngestionJob]:
    now = timezone.now()
    # A job found running was interrupted (a worker died): it runs again, counted as another attempt.
    IngestionJob.objects.filter(
        pk__in=job_ids, status__in=[IngestionJob.Status.QUEUED, IngestionJob.Status.RUNNING]
    ).update(
        status=IngestionJob.Status.RUNNING,
        attempts=F("attempts") + 1,
        started_at=Coalesce("started_at", now),
        heartbeat_at=now,
    )
    return list(
        IngestionJob.objects.filter(pk__in=job_ids, status=IngestionJob.Status.RUNNING)
        .select_related("version", "document")
        .order_by("queued_at")
    )


def _progress(jobs: Sequence[IngestionJob], *, stage: str, progress: float) -> None:
    """The jobs of one embedding group move together: one UPDATE for all of them."""
    IngestionJob.objects.filter(pk__in=[job.pk for job in jobs]).update(
        stage=stage, progress=progress, heartbeat_at=timezone.now()
    )
    for job in jobs:
        job.stage, job.progress = stage, progress
        job_progressed.send(
            sender=IngestionJob,
            schema_name=current_tenant_schema(),
            job_id=str(job.pk),
            created_by_id=job.created_by_id,
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


def _prepare(job: IngestionJob, pii_policy: IngestionPiiPolicy) -> PreparedDocument | None:
    version = job.version
    if version is None or job.document is None:
        _fail(job, code="missing_upload", reason="The uploaded file is no longer available.")
        return None
    try:
        with _timed(job, "parse"):
            parsed = parsed_upload(
                data=bytes(version.content),
                filename=version.filename,
                declared_media_type=version.declared_media_type,
            )
            parsed = pii_policy_applied(parsed, pii_policy)
        with _timed(job, "chunk"):
            drafts = chunk_drafts(parsed)
    except DocumentRejected as rejected:
        _fail(job, code=type(rejected).__name__, reason=rejected.reason)
        return None
    if not drafts:
        _fail(job, code="EmptyDocument", reason="The file contains no text to index.")
        return None
    return PreparedDocument(job=job, parsed=parsed, drafts=drafts)


@dataclass(frozen=True)
class EmbeddedTexts:
    vectors: np.ndarray
    seconds: float
    # CPU time of the embedding thread: against `seconds` it shows how much the embedder waited for a
    # core other work held (on a busy machine the gap is the first thing to look at).
    cpu_seconds: float = 0.0


def _embedded_in_tenant(tenant, texts: list[str]) -> EmbeddedTexts:
    """Runs in the embedding thread. The tenant is entered only so the embedding cache's keys carry its
    schema, as they do everywhere else; this thread never touches the database."""
    started, cpu_started = time.perf_counter(), time.thread_time()
    with tenant_context(tenant):
        vectors = embedder().embed_documents(texts)
    return EmbeddedTexts(
        vectors=vectors, seconds=time.perf_counter() - started, cpu_seconds=time.thread_time() - cpu_started
    )


def _store_group(group: list[PreparedDocument], slices: list[Future[EmbeddedTexts]]) -> list[int]:
    """Wait for the group's vectors and store its documents; the ids of the documents stored."""
    try:
        embedded = _collect(group, slices)
    except EmbeddingError as error:
        if error.transient:
            raise TransientIngestionError(f"embedding service unavailable: {error}") from error
        for item in group:
            _fail(item.job, code="embedding_failed", reason=f"The text could not be embedded: {error}")
        return []
    total = len(embedded.vectors)
    offset = 0
    for item in group:
        item.vectors = embedded.vectors[offset : offset + len(item.drafts)]
        offset += len(item.drafts)
        # Shared batches: charge each document its share of the embedding time.
        share = len(item.drafts) / max(total, 1)
        item.job.timings["embed"] = round(embedded.seconds * share, 4)
        item.job.timings["embed_cpu"] = round(embedded.cpu_seconds * share, 4)
    return _store(group)


def _collect(group: list[PreparedDocument], slices: list[Future[EmbeddedTexts]]) -> EmbeddedTexts:
    """The group's vectors in order; a long document reports progress after every slice."""
    parts = []
    for done, future in enumerate(slices, start=1):
        parts.append(future.result())
        if len(slices) > 1:
            progress = round(0.2 + 0.6 * done / len(slices), 3)
            _progress([item.job for item in group], stage="embedding", progress=progress)
    return EmbeddedTexts(
        vectors=np.vstack([part.vectors for part in parts]),
        seconds=sum(part.seconds for part in parts),
        cpu_seconds=sum(part.cpu_seconds for part in parts),
    )


def _store(group: list[PreparedDocument]) -> list[int]:
    """Store the group's documents with their jobs' success, in one transaction; the ids stored.

    One transaction per group rather than per document: a dozen statements for the group instead
    of a dozen per document. Each document is still all or nothing (a failure rolls the whole group
    back and the task retries it), and a job already finished by another delivery is left alone.
    """
    try:
        store_started = time.perf_counter()
        with transaction.atomic():
            running = set(
                IngestionJob.objects.select_for_update()
                .filter(pk__in=[item.job.pk for item in group], status=IngestionJob.Status.RUNNING)
                .values_list("pk", flat=True)
            )
            # Not running: another delivery of the same job finished it first.
            items = [item for item in group if item.job.pk in running]
            counts = documents_index_replace(
                updates=[_index_update(item) for item in items], embedding_model=embedder().model_name
            )
            seconds = round((time.perf_counter() - store_started) / max(len(items), 1), 4)
            for item, count in zip(items, counts, strict=True):
                if count is None:
                    reason = "A newer version was indexed."
                    _finish(item.job, status=IngestionJob.Status.SKIPPED, code="superseded", reason=reason)
                    continue
                item.job.chunk_count = count
                item.job.timings["store"] = seconds
                _finish(item.job, status=IngestionJob.Status.SUCCEEDED, **truncation_warning(item.parsed))
    except DatabaseError as error:
        raise TransientIngestionError(f"database unavailable while storing: {type(error).__name__}") from error
    stored = [item for item, count in zip(items, counts, strict=True) if count is not None]
    return [item.job.document_id for item in stored if item.job.document_id]


def _index_update(item: PreparedDocument) -> DocumentIndexUpdate:
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
    renamed = job.document.title != job.version.filename.rsplit("/", 1)[-1]
    return DocumentIndexUpdate(
        document=job.document,
        version=job.version,
        chunks=chunks,
        media_type=item.parsed.media_type,
        title=None if renamed else item.parsed.title,
        metadata={"parse": item.parsed.metadata},
    )


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
        created_by_id=job.created_by_id,
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
        status=IngestionJob.Status.QUEUED,
        stage=f"retrying in {countdown:.0f}s",
        error_message=reason,
        heartbeat_at=timezone.now() + timedelta(seconds=countdown),  # not stale before it is due
    )
    ingestion_jobs_total.labels(state="retrying", tenant=tenant_label(current_tenant_schema())).inc(retrying)
