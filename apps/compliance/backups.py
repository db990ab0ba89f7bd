"""Export one tenant's knowledge graph from Neo4j as JSON lines (backups, audits, migrations).

Every node and relationship of the tenant carries `tenant`; nothing else is read (the graph store
refuses Cypher without $tenant). Lines, in order:

    {"type": "node", "id": <element id>, "labels": [...], "properties": {...}}
    {"type": "relationship", "id": ..., "rel_type": "MENTIONS", "start": <node id>, "end": <node id>,
     "properties": {...}}

PostgreSQL stays the source of truth: `manage.py rebuild_graph` recreates the graph from a
restored schema; the export is for point-in-time copies and for moving a tenant between servers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from apps.integrations.graph.factory import graph_store

PAGE_SIZE = 5_000

_NODES = """
MATCH (n) WHERE n.tenant = $tenant
RETURN elementId(n) AS id, labels(n) AS labels, properties(n) AS properties
ORDER BY id SKIP $skip LIMIT $limit
"""

_RELATIONSHIPS = """
MATCH (a)-[r]->(b) WHERE r.tenant = $tenant AND a.tenant = $tenant AND b.tenant = $tenant
RETURN elementId(r) AS id, type(r) AS rel_type, elementId(a) AS start, elementId(b) AS end,
       properties(r) AS properties
ORDER BY id SKIP $skip LIMIT $limit
"""


@dataclass(frozen=True)
class GraphExport:
    nodes: int
    relationships: int


def tenant_graph_export(*, tenant: str, out: IO[str]) -> GraphExport:
    nodes = relationships = 0
    for row in _pages(_NODES, tenant=tenant):
        out.write(json.dumps({"type": "node", **row}, sort_keys=True, default=str) + "\n")
        nodes += 1
    for row in _pages(_RELATIONSHIPS, tenant=tenant):
        out.write(json.dumps({"type": "relationship", **row}, sort_keys=True, default=str) + "\n")
        relationships += 1
    return GraphExport(nodes=nodes, relationships=relationships)


def _pages(cypher: str, *, tenant: str) -> Iterator[dict[str, Any]]:
    skip = 0
    while True:
        rows = graph_store().run_read(cypher, tenant=tenant, parameters={"skip": skip, "limit": PAGE_SIZE})
        yield from rows
        if len(rows) < PAGE_SIZE:
            return
        skip += PAGE_SIZE
