"""Operator backfills: re-embed chunks with the configured embedder, rebuild the knowledge graph,
index every document again from its kept original (after a change of the tenant's PII policy)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction

from apps.documents.index_state import index_version_bump
from apps.documents.models import Chunk, Document
from apps.documents.titles import document_names_set
from apps.integrations.embeddings.factory import embedder
from apps.integrations.graph.knowledge import graph_tenant_clear
from apps.tenants.context import current_tenant_schema

from .graph_sync import documents_graph_sync
from .models import IngestionJob
from .personal_data import IngestionPiiPolicy, pii_policy_name
from .pipeline import ingestion_jobs_run

Progress = Callable[[int], None]


def chunks_reembed(*, only_stale: bool = True, batch_size: int = 256, on_progress: Progress | None = None) -> int:
    """Re-embed chunks (by default only those embedded by another model); returns how many changed."""
    model = embedder().model_name
    chunks = Chunk.objects.order_by("pk")
    if only_stale:
        chunks = chunks.exclude(embedding_model=model)
    changed, last_pk = 0, 0
    while True:
        batch = list(chunks.filter(pk__gt=last_pk).values_list("pk", "text")[:batch_size])
        if not batch:
            break
        vectors = embedder().embed_documents([text for _, text in batch])
        with transaction.atomic():
            for (pk, _), vector in zip(batch, vectors, strict=True):
                Chunk.objects.filter(pk=pk).update(embedding=vector.tolist(), embedding_model=model)
            index_version_bump()
        changed += len(batch)
        last_pk = batch[-1][0]
        if on_progress:
            on_progress(len(batch))
    return changed


def stale_chunk_count(*, only_stale: bool = True) -> int:
    chunks = Chunk.objects.all()
    return chunks.exclude(embedding_model=embedder().model_name).count() if only_stale else chunks.count()


def graph_rebuild(*, batch_size: int = 50, on_progress: Progress | None = None) -> list[int]:
    """Clear the tenant's graph and write every indexed document again; returns ids that failed."""
    graph_tenant_clear(tenant=current_tenant_schema())
    document_ids = list(
        Document.objects.filter(status=Document.Status.INDEXED).order_by("pk").values_list("pk", flat=True)
    )
    failed: list[int] = []
    for start in range(0, len(document_ids), batch_size):
        batch = document_ids[start : start + batch_size]
        failed.extend(documents_graph_sync(document_ids=batch))
        if on_progress:
            on_progress(len(batch))
    return failed


@dataclass(frozen=True)
class ReprocessOutcome:
    reindexed: int
    failed: dict[int, str]  # document id -> why (the job's reason, or the graph write)


def reprocessable_documents() -> list[int]:
    return list(
        Document.objects.filter(status=Document.Status.INDEXED, current_version__isnull=False)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def documents_reprocess(*, batch_size: int = 20, on_progress: Progress | None = None) -> ReprocessOutcome:
    """Index every indexed document again from its current version's kept file, under the tenant's
    policies as they are now (the PII policy at ingestion, the chunking settings), and write it to
    the graph again. Each document is swapped in one transaction, as an upload is, so questions
    asked meanwhile see either the old passages or the new ones. Safe to run again after an
    interruption: a document is simply indexed once more."""
    reindexed, failed = 0, {}
    document_ids = reprocessable_documents()
    for start in range(0, len(document_ids), batch_size):
        batch = document_ids[start : start + batch_size]
        run = ingestion_jobs_run(job_ids=[str(job.pk) for job in _reprocess_jobs_create(batch)])
        for job in run.jobs:
            if job.status != IngestionJob.Status.SUCCEEDED and job.document_id:
                failed[job.document_id] = job.error_message or job.status
        for document_id in documents_graph_sync(document_ids=run.stored_document_ids):
            failed[document_id] = "The knowledge graph could not be written; the reconciliation retries it."
        reindexed += len(run.stored_document_ids)
        if on_progress:
            on_progress(len(batch))
    return ReprocessOutcome(reindexed=reindexed, failed=failed)


def _reprocess_jobs_create(document_ids: list[int]) -> list[IngestionJob]:
    documents = Document.objects.filter(pk__in=document_ids).select_related("current_version")
    policy = IngestionPiiPolicy.of_tenant(current_tenant_schema())
    for document in documents:
        document_names_set(
            document=document,
            title=pii_policy_name(document.title, policy),
            source=pii_policy_name(document.source, policy),
        )
    jobs = [
        IngestionJob(
            document=document,
            version=version,
            filename=version.filename,
            size_bytes=version.size_bytes,
            content_hash=version.content_hash,
            status=IngestionJob.Status.QUEUED,
            stage="queued",
        )
        for document in documents
        if (version := document.current_version) is not None
    ]
    return IngestionJob.objects.bulk_create(jobs)
