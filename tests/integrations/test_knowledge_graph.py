"""The knowledge graph against the real Neo4j: tenant and ACL on everything, idempotent replace, exact deletes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from apps.core.errors import TenantContextRequired
from apps.integrations.graph import knowledge
from apps.integrations.graph.factory import graph_store
from apps.integrations.graph.knowledge import (
    GraphChunk,
    graph_document_acl_update,
    graph_document_delete,
    graph_document_replace,
    graph_stats,
    graph_tenant_clear,
)
from apps.text.entities import ExtractedEntity, entity_key

pytestmark = pytest.mark.integration

CHUNKS = "MATCH (c:Chunk {tenant: $tenant}) RETURN c {.*} AS chunk ORDER BY c.chunk_id"
ENTITIES = "MATCH (e:Entity {tenant: $tenant}) RETURN e {.*} AS entity ORDER BY e.key"
MENTIONS = """
MATCH (c:Chunk {tenant: $tenant})-[m:MENTIONS]->(e:Entity)
RETURN c.chunk_id AS chunk_id, e.key AS key, m {.*} AS mention ORDER BY chunk_id, key
"""
RELATED = """
MATCH (a:Entity {tenant: $tenant})-[r:RELATED]->(b:Entity)
RETURN a.key AS a, b.key AS b, r {.*} AS edge ORDER BY a, b
"""

# The patterns the retrieval leg should use (see the report): ACL checked in the Cypher, on chunks
# and on RELATED edges, so the graph never proposes what the user cannot see. PostgreSQL re-checks.
SEED_CHUNKS = """
MATCH (e:Entity {tenant: $tenant}) WHERE e.key IN $keys
MATCH (e)<-[m:MENTIONS]-(c:Chunk {tenant: $tenant})
WHERE any(principal IN c.acl WHERE principal IN $principals)
RETURN c.chunk_id AS chunk_id, sum(m.weight) AS score
ORDER BY score DESC, chunk_id LIMIT $limit
"""
NEIGHBOUR_CHUNKS = """
MATCH (e:Entity {tenant: $tenant}) WHERE e.key IN $keys
MATCH (e)-[r:RELATED {tenant: $tenant}]-(n:Entity)
WHERE any(principal IN r.acl WHERE principal IN $principals) AND NOT n.key IN $keys
WITH n, sum(r.weight) AS strength ORDER BY strength DESC LIMIT $max_neighbours
MATCH (n)<-[m:MENTIONS]-(c:Chunk {tenant: $tenant})
WHERE any(principal IN c.acl WHERE principal IN $principals)
RETURN c.chunk_id AS chunk_id, sum(strength * m.weight) AS score, collect(n.key) AS via
ORDER BY score DESC, chunk_id LIMIT $limit
"""


def entity(name: str, weight: float = 0.5) -> ExtractedEntity:
    return ExtractedEntity(key=entity_key(name), name=name, kind="name", weight=weight)


def read(cypher: str, *, tenant: str, **parameters: Any) -> list[dict[str, Any]]:
    return graph_store().run_read(cypher, tenant=tenant, parameters=parameters)


def snapshot(tenant: str) -> dict[str, list[dict[str, Any]]]:
    return {
        "chunks": read(CHUNKS, tenant=tenant),
        "entities": read(ENTITIES, tenant=tenant),
        "mentions": read(MENTIONS, tenant=tenant),
        "related": read(RELATED, tenant=tenant),
    }


def without_tenant(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: without_tenant(item) for key, item in value.items() if key != "tenant"}
    if isinstance(value, list):
        return [without_tenant(item) for item in value]
    return value


def edges(tenant: str) -> dict[tuple[str, str], dict[str, Any]]:
    return {(row["a"], row["b"]): row["edge"] for row in read(RELATED, tenant=tenant)}


@pytest.fixture(scope="module", autouse=True)
def _schema() -> None:
    graph_store().ensure_schema()


def _fresh_tenant() -> Iterator[str]:
    # Other checkouts share this Neo4j: a fresh tenant name per test, and everything it wrote removed.
    name = f"t_{uuid.uuid4().hex[:10]}"
    yield name
    graph_tenant_clear(tenant=name)


@pytest.fixture
def tenant() -> Iterator[str]:
    yield from _fresh_tenant()


@pytest.fixture
def other_tenant() -> Iterator[str]:
    yield from _fresh_tenant()


# Document 1: two chunks; document 2 shares "Henrik Ibsen" and the Ibsen-Brand edge with it.
DOC1 = [
    GraphChunk(
        chunk_id=101,
        acl=["user:1", "group:5"],
        entities=[entity("Henrik Ibsen", 0.9), entity("Brand", 0.7), entity("Norway", 0.4)],
    ),
    GraphChunk(chunk_id=102, acl=["user:1", "group:5"], entities=[entity("Henrik Ibsen", 0.6), entity("Oslo", 0.5)]),
]
DOC2 = [GraphChunk(chunk_id=201, acl=["user:2"], entities=[entity("Henrik Ibsen", 0.8), entity("Brand", 0.3)])]


def test_nodes_and_edges_carry_tenant_acl_and_source_chunks(tenant):
    graph_document_replace(tenant=tenant, document_id=1, chunks=DOC1)

    chunks = read(CHUNKS, tenant=tenant)
    assert [row["chunk"] for row in chunks] == [
        {"tenant": tenant, "chunk_id": 101, "document_id": 1, "acl": ["group:5", "user:1"]},
        {"tenant": tenant, "chunk_id": 102, "document_id": 1, "acl": ["group:5", "user:1"]},
    ]
    assert {row["entity"]["key"]: row["entity"] for row in read(ENTITIES, tenant=tenant)}["henrik ibsen"] == {
        "tenant": tenant,
        "key": "henrik ibsen",
        "name": "Henrik Ibsen",
        "kind": "name",
    }
    mentions = read(MENTIONS, tenant=tenant)
    assert len(mentions) == 5
    assert all(row["mention"]["tenant"] == tenant for row in mentions)
    assert {(row["chunk_id"], row["key"]): row["mention"]["weight"] for row in mentions}[(101, "henrik ibsen")] == 0.9
    assert edges(tenant) == {
        ("brand", "henrik ibsen"): {"tenant": tenant, "chunk_ids": [101], "acl": ["group:5", "user:1"], "weight": 1.0},
        ("brand", "norway"): {"tenant": tenant, "chunk_ids": [101], "acl": ["group:5", "user:1"], "weight": 1.0},
        ("henrik ibsen", "norway"): {"tenant": tenant, "chunk_ids": [101], "acl": ["group:5", "user:1"], "weight": 1.0},
        ("henrik ibsen", "oslo"): {"tenant": tenant, "chunk_ids": [102], "acl": ["group:5", "user:1"], "weight": 1.0},
    }
    assert graph_stats(tenant=tenant) == {"documents": 1, "chunks": 2, "entities": 4, "mentions": 5, "related": 4}


def test_replace_is_idempotent(tenant):
    graph_document_replace(tenant=tenant, document_id=1, chunks=DOC1)
    graph_document_replace(tenant=tenant, document_id=2, chunks=DOC2)
    before = snapshot(tenant)

    graph_document_replace(tenant=tenant, document_id=1, chunks=DOC1)
    graph_document_replace(tenant=tenant, document_id=1, chunks=DOC1)

    assert snapshot(tenant) == before
    assert graph_stats(tenant=tenant) == {"documents": 2, "chunks": 3, "entities": 4, "mentions": 7, "related": 4}


def test_replace_removes_what_the_old_version_contributed(tenant):
    graph_document_replace(tenant=tenant, document_id=1, chunks=DOC1)
    graph_document_replace(tenant=tenant, document_id=2, chunks=DOC2)

    new_version = [GraphChunk(chunk_id=103, acl=["user:1"], entities=[entity("Henrik Ibsen"), entity("Peer Gynt")])]
    graph_document_replace(tenant=tenant, document_id=1, chunks=new_version)

    assert [row["chunk"]["chunk_id"] for row in read(CHUNKS, tenant=tenant)] == [103, 201]
    assert [row["entity"]["key"] for row in read(ENTITIES, tenant=tenant)] == ["brand", "henrik ibsen", "peer gynt"]
    assert edges(tenant) == {
        ("brand", "henrik ibsen"): {"tenant": tenant, "chunk_ids": [201], "acl": ["user:2"], "weight": 1.0},
        ("henrik ibsen", "peer gynt"): {"tenant": tenant, "chunk_ids": [103], "acl": ["user:1"], "weight": 1.0},
    }


def test_delete_removes_only_what_the_document_contributed(tenant):
    graph_document_replace(tenant=tenant, document_id=1, chunks=DOC1)
    graph_document_replace(tenant=tenant, document_id=2, chunks=DOC2)
    shared_edge = edges(tenant)[("brand", "henrik ibsen")]
    assert shared_edge["chunk_ids"] == [101, 201]
    assert shared_edge["acl"] == ["group:5", "user:1", "user:2"]
    assert shared_edge["weight"] == 2.0

    graph_document_delete(tenant=tenant, document_id=1)

    assert [row["chunk"]["chunk_id"] for row in read(CHUNKS, tenant=tenant)] == [201]
    # Shared entities survive with document 2's mentions; Norway and Oslo were only document 1's.
    assert [row["entity"]["key"] for row in read(ENTITIES, tenant=tenant)] == ["brand", "henrik ibsen"]
    assert [(row["chunk_id"], row["key"]) for row in read(MENTIONS, tenant=tenant)] == [
        (201, "brand"),
        (201, "henrik ibsen"),
    ]
    assert edges(tenant) == {
        ("brand", "henrik ibsen"): {"tenant": tenant, "chunk_ids": [201], "acl": ["user:2"], "weight": 1.0},
    }


def test_deleting_a_document_the_graph_does_not_hold_is_a_no_op(tenant):
    graph_document_replace(tenant=tenant, document_id=2, chunks=DOC2)
    before = snapshot(tenant)

    graph_document_delete(tenant=tenant, document_id=999)

    assert snapshot(tenant) == before


def test_acl_update_changes_chunks_and_the_edges_they_support(tenant):
    graph_document_replace(tenant=tenant, document_id=1, chunks=DOC1)
    graph_document_replace(tenant=tenant, document_id=2, chunks=DOC2)

    graph_document_acl_update(tenant=tenant, document_id=1, acl=["group:9", "tenant:all", "group:9"])

    chunk_acls = {row["chunk"]["chunk_id"]: row["chunk"]["acl"] for row in read(CHUNKS, tenant=tenant)}
    assert chunk_acls == {101: ["group:9", "tenant:all"], 102: ["group:9", "tenant:all"], 201: ["user:2"]}
    acls = {pair: edge["acl"] for pair, edge in edges(tenant).items()}
    assert acls == {
        ("brand", "henrik ibsen"): ["group:9", "tenant:all", "user:2"],  # union with document 2's chunk
        ("brand", "norway"): ["group:9", "tenant:all"],
        ("henrik ibsen", "norway"): ["group:9", "tenant:all"],
        ("henrik ibsen", "oslo"): ["group:9", "tenant:all"],
    }


def test_another_tenant_sees_nothing_and_keeps_its_own_document_with_the_same_id(tenant, other_tenant):
    graph_document_replace(tenant=tenant, document_id=1, chunks=DOC1)

    for cypher in (CHUNKS, ENTITIES, MENTIONS, RELATED):
        assert read(cypher, tenant=other_tenant) == []
    assert graph_stats(tenant=other_tenant) == {"documents": 0, "chunks": 0, "entities": 0, "mentions": 0, "related": 0}

    # Document and chunk ids are per tenant schema, so they collide across tenants by design.
    graph_document_replace(tenant=other_tenant, document_id=1, chunks=DOC1)
    graph_document_delete(tenant=other_tenant, document_id=1)
    graph_tenant_clear(tenant=other_tenant)

    assert graph_stats(tenant=tenant) == {"documents": 1, "chunks": 2, "entities": 4, "mentions": 5, "related": 4}


@pytest.mark.parametrize("bad_tenant", [None, "", "public"])
def test_calls_without_a_tenant_are_refused(bad_tenant):
    with pytest.raises(TenantContextRequired):
        graph_document_replace(tenant=bad_tenant, document_id=1, chunks=DOC1)
    with pytest.raises(TenantContextRequired):
        graph_document_delete(tenant=bad_tenant, document_id=1)
    with pytest.raises(TenantContextRequired):
        graph_stats(tenant=bad_tenant)


@pytest.mark.parametrize(
    "chunks",
    [
        [DOC1[0], DOC1[0]],  # the same chunk twice
        [GraphChunk(chunk_id=101, acl="user:1", entities=[])],  # a string, not a list of principals
        [GraphChunk(chunk_id=101, acl=[""], entities=[])],
        [GraphChunk(chunk_id="101", acl=[], entities=[])],  # type: ignore[arg-type]
    ],
)
def test_bad_input_is_refused_and_changes_nothing(tenant, chunks):
    graph_document_replace(tenant=tenant, document_id=1, chunks=DOC1)
    before = snapshot(tenant)

    with pytest.raises((ValueError, TypeError)):
        graph_document_replace(tenant=tenant, document_id=1, chunks=chunks)

    assert snapshot(tenant) == before


def test_small_batches_give_the_same_graph(tenant, other_tenant, monkeypatch):
    many = [
        GraphChunk(
            chunk_id=1000 + index,
            acl=[f"user:{index % 3}"],
            entities=[entity(f"Topic {index % 4}"), entity(f"Place {index % 5}"), entity("Acme")],
        )
        for index in range(12)
    ]
    graph_document_replace(tenant=tenant, document_id=7, chunks=many)

    monkeypatch.setattr(knowledge, "BATCH_ROWS", 2)
    graph_document_replace(tenant=other_tenant, document_id=7, chunks=many)
    graph_document_replace(tenant=other_tenant, document_id=7, chunks=many)

    assert without_tenant(snapshot(other_tenant)) == without_tenant(snapshot(tenant))
    graph_document_delete(tenant=other_tenant, document_id=7)
    assert graph_stats(tenant=other_tenant)["entities"] == 0


def test_entities_beyond_the_per_chunk_cap_are_not_written(tenant, settings):
    settings.ENTITY_MAX_PER_CHUNK = 3
    crowded = [GraphChunk(chunk_id=1, acl=["user:1"], entities=[entity(f"Name {i}", i / 10) for i in range(1, 8)])]

    graph_document_replace(tenant=tenant, document_id=1, chunks=crowded)

    assert [row["entity"]["key"] for row in read(ENTITIES, tenant=tenant)] == ["name 5", "name 6", "name 7"]
    assert graph_stats(tenant=tenant)["related"] == 3


def test_tenant_clear_removes_everything_of_that_tenant_only(tenant, other_tenant):
    graph_document_replace(tenant=tenant, document_id=1, chunks=DOC1)
    graph_document_replace(tenant=other_tenant, document_id=2, chunks=DOC2)

    graph_tenant_clear(tenant=tenant)

    assert graph_stats(tenant=tenant) == {"documents": 0, "chunks": 0, "entities": 0, "mentions": 0, "related": 0}
    assert graph_stats(tenant=other_tenant)["chunks"] == 1


def test_retrieval_walks_respect_acl_in_the_cypher(tenant):
    graph_document_replace(tenant=tenant, document_id=1, chunks=DOC1)  # user:1, group:5
    graph_document_replace(tenant=tenant, document_id=2, chunks=DOC2)  # user:2
    limits = {"limit": 10, "max_neighbours": 20}

    seeds_for_user1 = read(SEED_CHUNKS, tenant=tenant, keys=["brand"], principals=["user:1"], **limits)
    seeds_for_user2 = read(SEED_CHUNKS, tenant=tenant, keys=["brand"], principals=["user:2"], **limits)
    assert [row["chunk_id"] for row in seeds_for_user1] == [101]
    assert [row["chunk_id"] for row in seeds_for_user2] == [201]

    # Brand -> Henrik Ibsen -> chunks mentioning Ibsen: user:1 reaches 101 and 102, never 201.
    hops_for_user1 = read(NEIGHBOUR_CHUNKS, tenant=tenant, keys=["brand"], principals=["user:1"], **limits)
    assert {row["chunk_id"] for row in hops_for_user1} == {101, 102}
    # "Norway" is only joined to Brand by document 1's chunk: user:2 cannot walk that edge.
    hops_for_user2 = read(NEIGHBOUR_CHUNKS, tenant=tenant, keys=["brand"], principals=["user:2"], **limits)
    assert {row["chunk_id"] for row in hops_for_user2} == {201}
    assert all("norway" not in row["via"] for row in hops_for_user2)
    assert read(NEIGHBOUR_CHUNKS, tenant=tenant, keys=["brand"], principals=["user:3"], **limits) == []
