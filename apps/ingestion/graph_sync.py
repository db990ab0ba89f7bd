"""Keep the Neo4j knowledge graph in step with PostgreSQL, after PostgreSQL has committed.

The graph only proposes candidates (retrieval re-checks every chunk in PostgreSQL), so a graph
that lags behind is safe; a document whose graph write failed is marked `graph_status=failed`
and retried by a task, and `manage.py rebuild_graph` repairs everything.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from apps.documents.models import Chunk, Document
from apps.integrations.graph.knowledge import (
    GraphChunk,
    graph_document_acl_update,
    graph_document_delete,
    graph_document_replace,
)
from apps.tenants.context import current_tenant_schema

from .entities import ExtractedEntity, entity_extractor

logger = logging.getLogger(__name__)


def documents_graph_sync(
    *, document_ids: Sequence[int], entities_by_chunk: dict[int, list[ExtractedEntity]] | None = None
) -> list[int]:
    """Write each document's chunks and entities to the graph; returns the ids that failed."""
    tenant = current_tenant_schema()
    known = entities_by_chunk or {}
    failed = []
    for document_id in document_ids:
        rows = list(Chunk.objects.filter(document_id=document_id).values_list("pk", "acl", "text"))
        missing = [text for pk, _, text in rows if pk not in known]
        extracted = iter(entity_extractor().extract(texts=missing) if missing else [])
        chunks = [
            GraphChunk(chunk_id=pk, acl=list(acl), entities=known[pk] if pk in known else next(extracted))
            for pk, acl, _ in rows
        ]
        try:
            graph_document_replace(tenant=tenant, document_id=document_id, chunks=chunks)
        except Exception:  # noqa: BLE001 - graph outages must not fail indexing; recorded and retried
            logger.warning("graph sync failed for document %s", document_id, exc_info=True)
            failed.append(document_id)
            continue
        Document.objects.filter(pk=document_id).update(graph_status=Document.GraphStatus.SYNCED)
    if failed:
        Document.objects.filter(pk__in=failed).update(graph_status=Document.GraphStatus.FAILED)
    return failed


def document_graph_acl_sync(*, document_id: int, acl: list[str]) -> None:
    graph_document_acl_update(tenant=current_tenant_schema(), document_id=document_id, acl=acl)


def document_graph_delete(*, document_id: int) -> None:
    graph_document_delete(tenant=current_tenant_schema(), document_id=document_id)
