"""Keep the Neo4j knowledge graph in step with PostgreSQL, after PostgreSQL has committed.

The graph only proposes candidates (retrieval re-checks every chunk in PostgreSQL), so a graph
that lags behind is safe; a document whose graph write failed is marked `graph_status=failed`
and retried by a task, and `manage.py rebuild_graph` repairs everything.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from apps.documents.models import Chunk, Document
from apps.integrations.graph.factory import graph_schema_ensure
from apps.integrations.graph.knowledge import (
    GraphChunk,
    graph_document_acl_update,
    graph_document_delete,
    graph_document_replace,
)
from apps.tenants.context import current_tenant_schema

from .entities import entity_extractor

logger = logging.getLogger(__name__)


def documents_graph_sync(*, document_ids: Sequence[int]) -> list[int]:
    """Extract entities from each document's chunks and write them to the graph; returns ids that failed."""
    tenant = current_tenant_schema()
    graph_schema_ensure()
    failed = []
    for document_id in document_ids:
        rows = list(Chunk.objects.filter(document_id=document_id).values_list("pk", "acl", "text", "document__title"))
        # The title travels with the text: names in titles are what questions most often mention.
        extracted = entity_extractor().extract(texts=[f"{title}. {text}" for _, _, text, title in rows])
        chunks = [
            GraphChunk(chunk_id=pk, acl=list(acl), entities=entities)
            for (pk, acl, _, _), entities in zip(rows, extracted, strict=True)
        ]
        try:
            graph_document_replace(tenant=tenant, document_id=document_id, chunks=chunks)
        except Exception:
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
