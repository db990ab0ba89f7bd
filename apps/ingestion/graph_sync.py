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
    graph_documents_replace,
)
from apps.tenants.context import current_tenant_schema
from apps.text.entities import entity_extractor

logger = logging.getLogger(__name__)


def documents_graph_sync(*, document_ids: Sequence[int]) -> list[int]:
    """Extract entities from the documents' chunks and write them to the graph in one batch.

    Returns the ids that failed (all of them when the batch could not be written).
    """
    if not document_ids:
        return []
    tenant = current_tenant_schema()
    rows = list(
        Chunk.objects.filter(document_id__in=document_ids)
        .order_by("document_id", "ordinal")
        .values_list("pk", "document_id", "acl", "text", "document__title")
    )
    # The title travels with the text: names in titles are what questions most often mention.
    extracted = entity_extractor().extract(texts=[f"{title}. {text}" for _, _, _, text, title in rows])
    documents: dict[int, list[GraphChunk]] = {document_id: [] for document_id in document_ids}
    for (pk, document_id, acl, _, _), entities in zip(rows, extracted, strict=True):
        documents[document_id].append(GraphChunk(chunk_id=pk, acl=list(acl), entities=entities))
    try:
        graph_schema_ensure()
        graph_documents_replace(tenant=tenant, documents=documents)
    except Exception:
        logger.warning("graph sync failed for %d documents", len(document_ids), exc_info=True)
        Document.objects.filter(pk__in=document_ids).update(graph_status=Document.GraphStatus.FAILED)
        return list(document_ids)
    Document.objects.filter(pk__in=document_ids).update(graph_status=Document.GraphStatus.SYNCED)
    return []


def document_graph_acl_sync(*, document_id: int) -> None:
    """The document's ACL as PostgreSQL holds it now, onto its graph nodes; a document deleted since
    is left to its own graph deletion."""
    acl = Document.objects.filter(pk=document_id).values_list("acl", flat=True).first()
    if acl is not None:
        graph_document_acl_update(tenant=current_tenant_schema(), document_id=document_id, acl=list(acl))


def document_graph_delete(*, document_id: int) -> None:
    graph_document_delete(tenant=current_tenant_schema(), document_id=document_id)
