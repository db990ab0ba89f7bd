"""The knowledge graph ingestion writes and maintains: chunks, the entities they mention, co-occurrence.

Model (every node and relationship carries `tenant`):

    (:Chunk {tenant, chunk_id, document_id, acl})
    (:Entity {tenant, key, name, kind})
    (:Chunk)-[:MENTIONS {tenant, weight}]->(:Entity)
    (:Entity)-[:RELATED {tenant, chunk_ids, acl, weight}]->(:Entity)

RELATED joins two entities mentioned in one chunk. It is stored once, from the smaller key to the
larger (Python string order; read it undirected); `chunk_ids` are the chunks that support it
(sorted), `acl` the union of their principals (sorted), and `weight` how many chunks support it.
PostgreSQL stays the source of truth for access: the ACLs here only let the graph leg skip what a
user cannot see before PostgreSQL checks again.

Every statement goes through `graph_store()` with the tenant, in UNWIND batches of at most
BATCH_ROWS rows so a large ingest never builds one giant transaction. A document's writes are
several transactions, ordered so that re-running `graph_document_replace` after a crash at any
point converges to the same graph.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any, Protocol, TypeVar

from django.conf import settings

from .base import require_tenant
from .factory import graph_store

BATCH_ROWS = 500

T = TypeVar("T")


class MentionedEntity(Protocol):
    """What the graph needs of an extracted entity (`apps.text.entities.ExtractedEntity` fits)."""

    @property
    def key(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> str: ...

    @property
    def weight(self) -> float: ...


@dataclass(frozen=True, slots=True)
class GraphChunk:
    chunk_id: int
    acl: Sequence[str]
    entities: Sequence[MentionedEntity]


# --- Cypher ---------------------------------------------------------------------------------------

_DOCUMENT_CHUNK_IDS = """
MATCH (c:Chunk {tenant: $tenant, document_id: $document_id})
RETURN c.chunk_id AS chunk_id ORDER BY chunk_id
"""

# The edges a chunk supports join two entities it mentions; matching them pairwise (expand-into)
# never walks the full neighbourhood of a hub entity (the WITH binds both ends first, so the planner
# cannot choose to expand one end's RELATED edges and join). Undirected, because the stored direction
# follows Python's string order, which need not be Cypher's for every character.
_SUPPORTED_EDGES = """
UNWIND $chunk_ids AS chunk_id
MATCH (c:Chunk {tenant: $tenant, chunk_id: chunk_id})-[:MENTIONS]->(a:Entity),
      (c)-[:MENTIONS]->(b:Entity)
WHERE a.key < b.key
WITH DISTINCT chunk_id, a, b
MATCH (a)-[r:RELATED {tenant: $tenant}]-(b)
WHERE chunk_id IN r.chunk_ids
WITH DISTINCT r
"""

_EDGE_ACL = """
CALL (r) {
  UNWIND r.chunk_ids AS supporting_id
  MATCH (s:Chunk {tenant: $tenant, chunk_id: supporting_id})
  UNWIND s.acl AS principal
  WITH DISTINCT principal ORDER BY principal
  RETURN collect(principal) AS acl
}
"""

_DETACH_CHUNKS_FROM_EDGES = (
    _SUPPORTED_EDGES
    + """
SET r.chunk_ids = [id IN r.chunk_ids WHERE NOT id IN $chunk_ids]
WITH r
"""
    + _EDGE_ACL
    + """
SET r.acl = acl, r.weight = toFloat(size(r.chunk_ids))
WITH r WHERE size(r.chunk_ids) = 0
DELETE r
RETURN count(*) AS deleted
"""
)

_RECOMPUTE_EDGE_ACL = (
    _SUPPORTED_EDGES
    + _EDGE_ACL
    + """
SET r.acl = acl
RETURN count(*) AS updated
"""
)

# Entities left without a mention go in the same transaction as the chunks, so no crash can
# strand them where a retry would not find them.
_DELETE_CHUNKS = """
UNWIND $chunk_ids AS chunk_id
MATCH (c:Chunk {tenant: $tenant, chunk_id: chunk_id})
OPTIONAL MATCH (c)-[:MENTIONS]->(e:Entity)
WITH collect(DISTINCT c) AS chunks, collect(DISTINCT e) AS entities
FOREACH (c IN chunks | DETACH DELETE c)
WITH entities
UNWIND entities AS e
WITH e WHERE NOT EXISTS { MATCH (e)<-[:MENTIONS]-(:Chunk) }
DETACH DELETE e
RETURN count(*) AS deleted_entities
"""

_UPSERT_CHUNKS = """
UNWIND $rows AS row
MERGE (c:Chunk {tenant: $tenant, chunk_id: row.chunk_id})
SET c.document_id = row.document_id, c.acl = row.acl
"""

_DOCUMENTS_WITH_CHUNKS = """
UNWIND $document_ids AS document_id
MATCH (c:Chunk {tenant: $tenant, document_id: document_id})
RETURN DISTINCT document_id
"""

_SET_CHUNK_ACL = """
UNWIND $chunk_ids AS chunk_id
MATCH (c:Chunk {tenant: $tenant, chunk_id: chunk_id})
SET c.acl = $acl
"""

# An entity shared with other documents keeps the name and kind it was first written with, so
# re-running a document never flips them.
_UPSERT_MENTIONS = """
UNWIND $rows AS row
MATCH (c:Chunk {tenant: $tenant, chunk_id: row.chunk_id})
MERGE (e:Entity {tenant: $tenant, key: row.key})
ON CREATE SET e.name = row.name, e.kind = row.kind
MERGE (c)-[m:MENTIONS {tenant: $tenant}]->(e)
SET m.weight = row.weight
"""

# `SET r.tenant` takes the relationship's write lock before its lists are read, so two documents
# adding to one edge at once serialise instead of losing an update.
_UPSERT_EDGES = """
UNWIND $rows AS row
MATCH (a:Entity {tenant: $tenant, key: row.a})
MATCH (b:Entity {tenant: $tenant, key: row.b})
MERGE (a)-[r:RELATED {tenant: $tenant}]->(b)
ON CREATE SET r.chunk_ids = [], r.acl = []
SET r.tenant = $tenant
WITH r, row
CALL (r, row) {
  UNWIND r.chunk_ids + row.chunk_ids AS chunk_id
  WITH DISTINCT chunk_id ORDER BY chunk_id
  RETURN collect(chunk_id) AS chunk_ids
}
CALL (r, row) {
  UNWIND r.acl + row.acl AS principal
  WITH DISTINCT principal ORDER BY principal
  RETURN collect(principal) AS acl
}
SET r.chunk_ids = chunk_ids, r.acl = acl, r.weight = toFloat(size(chunk_ids))
"""

_CLEAR_LABEL = """
MATCH (n:{label} {{tenant: $tenant}})
WITH n LIMIT $limit
DETACH DELETE n
RETURN count(*) AS deleted
"""

_STATS = """
CALL () { MATCH (c:Chunk {tenant: $tenant}) RETURN count(c) AS chunks, count(DISTINCT c.document_id) AS documents }
CALL () { MATCH (e:Entity {tenant: $tenant}) RETURN count(e) AS entities }
CALL () { MATCH (:Chunk {tenant: $tenant})-[m:MENTIONS]->(:Entity) RETURN count(m) AS mentions }
CALL () { MATCH (:Entity {tenant: $tenant})-[r:RELATED]->(:Entity) RETURN count(r) AS related }
RETURN documents, chunks, entities, mentions, related
"""


# --- Services -------------------------------------------------------------------------------------


def graph_document_replace(*, tenant: str, document_id: int, chunks: Sequence[GraphChunk]) -> None:
    """Make the graph hold exactly `chunks` for this document: what it contributed before goes first.

    Idempotent: the same input twice leaves the same graph (lists are kept sorted, names are set
    on creation only).
    """
    graph_documents_replace(tenant=tenant, documents={document_id: chunks})


def graph_documents_replace(*, tenant: str, documents: Mapping[int, Sequence[GraphChunk]]) -> None:
    """`graph_document_replace` for many documents at once, in a handful of batched transactions.

    Ingestion writes documents in batches: one round trip per statement and batch, rather than per
    document, is what keeps the graph from becoming the slowest step of ingestion.
    """
    tenant = require_tenant(tenant)
    prepared_by_document = {
        _document_id(document_id): _prepare_chunks(chunks) for document_id, chunks in documents.items()
    }
    _reject_shared_chunk_ids(prepared_by_document)
    store = graph_store()
    present = store.run_read(
        _DOCUMENTS_WITH_CHUNKS, tenant=tenant, parameters={"document_ids": sorted(prepared_by_document)}
    )
    for row in present:
        graph_document_delete(tenant=tenant, document_id=int(row["document_id"]))
    chunk_rows = [
        {"chunk_id": chunk_id, "acl": acl, "document_id": document_id}
        for document_id, prepared in prepared_by_document.items()
        for chunk_id, acl, _ in prepared
    ]
    for batch in _batches(chunk_rows):
        store.run_write(_UPSERT_CHUNKS, tenant=tenant, parameters={"rows": batch})
    all_prepared = [chunk for prepared in prepared_by_document.values() for chunk in prepared]
    mention_rows = sorted(
        (
            {"chunk_id": chunk_id, "key": key, "name": entity.name, "kind": entity.kind, "weight": entity.weight}
            for chunk_id, _, entities in all_prepared
            for key, entity in entities.items()
        ),
        key=lambda row: (row["key"], row["chunk_id"]),  # one lock order for all writers: fewer deadlocks
    )
    for batch in _batches(mention_rows):
        store.run_write(_UPSERT_MENTIONS, tenant=tenant, parameters={"rows": batch})
    for batch in _batches(_edge_rows(all_prepared)):
        store.run_write(_UPSERT_EDGES, tenant=tenant, parameters={"rows": batch})


def _reject_shared_chunk_ids(prepared_by_document: Mapping[int, list]) -> None:
    seen: set[int] = set()
    for prepared in prepared_by_document.values():
        for chunk_id, _, _ in prepared:
            if chunk_id in seen:
                raise ValueError(f"chunk {chunk_id} is listed twice")
            seen.add(chunk_id)


def graph_document_delete(*, tenant: str, document_id: int) -> None:
    """Remove what this document contributed; entities and edges other documents support stay."""
    tenant = require_tenant(tenant)
    document_id = _document_id(document_id)
    chunk_ids = _document_chunk_ids(tenant=tenant, document_id=document_id)
    store = graph_store()
    # Edges first, while the chunks still show which entities they join.
    for batch in _batches(chunk_ids):
        store.run_write(_DETACH_CHUNKS_FROM_EDGES, tenant=tenant, parameters={"chunk_ids": batch})
    for batch in _batches(chunk_ids):
        store.run_write(_DELETE_CHUNKS, tenant=tenant, parameters={"chunk_ids": batch})


def graph_document_acl_update(*, tenant: str, document_id: int, acl: Sequence[str]) -> None:
    """Give the document's chunks a new ACL and recompute the ACL of every edge they support."""
    tenant = require_tenant(tenant)
    document_id = _document_id(document_id)
    principals = _principals(acl)
    chunk_ids = _document_chunk_ids(tenant=tenant, document_id=document_id)
    store = graph_store()
    # Chunks first: the edge ACL is recomputed from the chunks' current ACLs.
    for batch in _batches(chunk_ids):
        store.run_write(_SET_CHUNK_ACL, tenant=tenant, parameters={"chunk_ids": batch, "acl": principals})
    for batch in _batches(chunk_ids):
        store.run_write(_RECOMPUTE_EDGE_ACL, tenant=tenant, parameters={"chunk_ids": batch})


def graph_tenant_clear(*, tenant: str) -> None:
    """Delete the tenant's whole graph (for rebuilds), a bounded batch per transaction."""
    tenant = require_tenant(tenant)
    store = graph_store()
    for label in ("Chunk", "Entity"):
        statement = _CLEAR_LABEL.format(label=label)
        while store.run_write(statement, tenant=tenant, parameters={"limit": BATCH_ROWS})[0]["deleted"]:
            pass


def graph_stats(*, tenant: str) -> dict[str, int]:
    """Counts of the tenant's graph: documents, chunks, entities, mentions, related."""
    tenant = require_tenant(tenant)
    rows = graph_store().run_read(_STATS, tenant=tenant)
    return {name: int(value) for name, value in rows[0].items()}


# --- Helpers --------------------------------------------------------------------------------------


def _document_id(document_id: int) -> int:
    if isinstance(document_id, bool) or not isinstance(document_id, int):
        raise TypeError("document_id must be an int")
    return document_id


def _principals(acl: Sequence[str]) -> list[str]:
    if isinstance(acl, str) or not all(isinstance(principal, str) and principal for principal in acl):
        raise ValueError("acl must be a list of non-empty principal strings")
    return sorted(set(acl))


def _document_chunk_ids(*, tenant: str, document_id: int) -> list[int]:
    rows = graph_store().run_read(_DOCUMENT_CHUNK_IDS, tenant=tenant, parameters={"document_id": document_id})
    return [row["chunk_id"] for row in rows]


def _prepare_chunks(chunks: Sequence[GraphChunk]) -> list[tuple[int, list[str], dict[str, MentionedEntity]]]:
    """Validate, and keep each chunk's strongest mention per key, at most ENTITY_MAX_PER_CHUNK of them.

    The cap matters because co-occurrence edges grow with the square of a chunk's entities.
    """
    seen: set[int] = set()
    prepared = []
    for chunk in chunks:
        chunk_id = _document_id(chunk.chunk_id)
        if chunk_id in seen:
            raise ValueError(f"chunk {chunk_id} is listed twice")
        seen.add(chunk_id)
        strongest: dict[str, MentionedEntity] = {}
        for entity in chunk.entities:
            if not entity.key:
                continue
            if entity.key not in strongest or strongest[entity.key].weight < entity.weight:
                strongest[entity.key] = entity
        kept = sorted(strongest.items(), key=lambda item: (-item[1].weight, item[0]))[: settings.ENTITY_MAX_PER_CHUNK]
        prepared.append((chunk_id, _principals(chunk.acl), dict(kept)))
    return prepared


def _edge_rows(prepared: list[tuple[int, list[str], dict[str, MentionedEntity]]]) -> list[dict[str, Any]]:
    """One row per entity pair in this document: the chunks supporting it and their joint ACL.

    Only a chunk's GRAPH_RELATED_MAX_ENTITIES strongest entities are paired: edges grow with the
    square of the entities, and writing them was most of the graph's ingestion cost.
    """
    pairs: dict[tuple[str, str], tuple[set[int], set[str]]] = {}
    for chunk_id, acl, entities in prepared:
        strongest = sorted(entities, key=lambda key: (-entities[key].weight, key))[
            : settings.GRAPH_RELATED_MAX_ENTITIES
        ]
        for a, b in combinations(sorted(strongest), 2):
            chunk_ids, principals = pairs.setdefault((a, b), (set(), set()))
            chunk_ids.add(chunk_id)
            principals.update(acl)
    return [
        {"a": a, "b": b, "chunk_ids": sorted(chunk_ids), "acl": sorted(principals)}
        for (a, b), (chunk_ids, principals) in sorted(pairs.items())
    ]


def _batches(rows: Sequence[T]) -> Iterator[list[T]]:
    for start in range(0, len(rows), BATCH_ROWS):
        yield list(rows[start : start + BATCH_ROWS])
