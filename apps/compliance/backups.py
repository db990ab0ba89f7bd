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
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
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


# --- Import (moving a tenant to another shard) ------------------------------------------------------

IMPORT_BATCH = 1_000
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

_DELETE_SOME = "MATCH (n) WHERE n.tenant = $tenant WITH n LIMIT $limit DETACH DELETE n RETURN count(*) AS deleted"


def tenant_graph_delete(*, tenant: str) -> int:
    """Remove every node of the tenant (and so its relationships) from this shard's graph, in batches."""
    deleted = 0
    while True:
        rows = graph_store().run_write(_DELETE_SOME, tenant=tenant, parameters={"limit": IMPORT_BATCH * 10})
        count = int(rows[0]["deleted"]) if rows else 0
        deleted += count
        if count == 0:
            return deleted


def tenant_graph_import(*, tenant: str, lines: Iterable[str]) -> GraphExport:
    """Load an export (`tenant_graph_export`) into this shard's graph. Every node and relationship
    must carry this tenant (others are refused with ValueError, nothing of theirs is written)."""
    new_ids: dict[str, str] = {}
    nodes: dict[tuple[str, ...], list[dict]] = defaultdict(list)
    relationships: dict[str, list[dict]] = defaultdict(list)
    counts = {"node": 0, "relationship": 0}
    for line in lines:
        row = json.loads(line)
        if row.get("properties", {}).get("tenant") != tenant:
            raise ValueError(f"the export holds a {row.get('type')} of another tenant; nothing more is imported")
        counts[row["type"]] += 1
        if row["type"] == "node":
            group = tuple(_checked_names(row["labels"]))
            nodes[group].append(row)
            if len(nodes[group]) >= IMPORT_BATCH:
                new_ids.update(_create_nodes(tenant, group, nodes.pop(group)))
        else:
            for group, pending in nodes.items():
                new_ids.update(_create_nodes(tenant, group, pending))
            nodes.clear()
            rel_type = _checked_names([row["rel_type"]])[0]
            relationships[rel_type].append(
                {"start": new_ids[row["start"]], "end": new_ids[row["end"]], "properties": row["properties"]}
            )
            if len(relationships[rel_type]) >= IMPORT_BATCH:
                _create_relationships(tenant, rel_type, relationships.pop(rel_type))
    for group, pending in nodes.items():
        new_ids.update(_create_nodes(tenant, group, pending))
    for rel_type, pending in relationships.items():
        _create_relationships(tenant, rel_type, pending)
    return GraphExport(nodes=counts["node"], relationships=counts["relationship"])


def _checked_names(names: list[str]) -> list[str]:
    # Labels and relationship types cannot be query parameters: only plain names are written into Cypher.
    for name in names:
        if not _NAME.match(name):
            raise ValueError(f"{name!r} is not a label or relationship type this import writes")
    return names


def _create_nodes(tenant: str, labels: tuple[str, ...], rows: list[dict]) -> dict[str, str]:
    label_text = "".join(f":`{label}`" for label in labels)
    cypher = (
        "UNWIND $rows AS row WITH row WHERE row.properties.tenant = $tenant "
        f"CREATE (n{label_text}) SET n = row.properties RETURN row.id AS old, elementId(n) AS new"
    )
    payload = [{"id": row["id"], "properties": row["properties"]} for row in rows]
    created = graph_store().run_write(cypher, tenant=tenant, parameters={"rows": payload})
    return {item["old"]: item["new"] for item in created}


def _create_relationships(tenant: str, rel_type: str, rows: list[dict]) -> None:
    cypher = (
        "UNWIND $rows AS row MATCH (a) WHERE elementId(a) = row.start AND a.tenant = $tenant "
        "MATCH (b) WHERE elementId(b) = row.end AND b.tenant = $tenant "
        f"CREATE (a)-[r:`{rel_type}`]->(b) SET r = row.properties"
    )
    graph_store().run_write(cypher, tenant=tenant, parameters={"rows": rows})


def tenant_graph_counts(*, tenant: str) -> dict[str, int]:
    """Nodes per label set and relationships per type: what a copy of the graph must match."""
    counts: dict[str, int] = defaultdict(int)
    nodes = graph_store().run_read(
        "MATCH (n) WHERE n.tenant = $tenant RETURN labels(n) AS labels, count(*) AS count", tenant=tenant
    )
    for row in nodes:
        counts["nodes:" + ":".join(sorted(row["labels"]))] += int(row["count"])
    rels = graph_store().run_read(
        "MATCH (a)-[r]->(b) WHERE r.tenant = $tenant AND a.tenant = $tenant AND b.tenant = $tenant "
        "RETURN type(r) AS rel_type, count(*) AS count",
        tenant=tenant,
    )
    for row in rels:
        counts["relationships:" + row["rel_type"]] += int(row["count"])
    return dict(sorted(counts.items()))
