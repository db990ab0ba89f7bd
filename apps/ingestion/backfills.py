"""Operator backfills: re-embed chunks with the configured embedder, rebuild the knowledge graph."""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction

from apps.documents.index_state import index_version_bump
from apps.documents.models import Chunk, Document
from apps.integrations.embeddings.factory import embedder
from apps.integrations.graph.knowledge import graph_tenant_clear
from apps.tenants.context import current_tenant_schema

from .graph_sync import documents_graph_sync

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
