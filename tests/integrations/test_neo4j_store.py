"""The graph adapter against the real Neo4j: round trip, tenant scoping, and refusal without a tenant."""

from __future__ import annotations

import uuid

import pytest

from apps.core.errors import TenantContextRequired
from apps.integrations.graph.factory import graph_store
from apps.integrations.graph.neo4j_store import TenantPredicateMissing

pytestmark = pytest.mark.integration

UPSERT = "MERGE (p:Probe {tenant: $tenant, key: $key}) SET p.label = $label RETURN p.label AS label"
READ = "MATCH (p:Probe {tenant: $tenant, key: $key}) RETURN p.label AS label"
DELETE = "MATCH (p:Probe {tenant: $tenant, key: $key}) DETACH DELETE p"


@pytest.fixture
def probe_key():
    key = f"probe-{uuid.uuid4()}"
    yield key
    for tenant in ("alpha", "beta"):
        graph_store().run_write(DELETE, tenant=tenant, parameters={"key": key})


def test_a_node_round_trips_through_the_real_server(probe_key):
    store = graph_store()
    store.ensure_schema()

    written = store.run_write(UPSERT, tenant="alpha", parameters={"key": probe_key, "label": "Refund policy"})
    read_back = store.run_read(READ, tenant="alpha", parameters={"key": probe_key})

    assert written == [{"label": "Refund policy"}]
    assert read_back == [{"label": "Refund policy"}]


def test_merge_is_idempotent(probe_key):
    store = graph_store()
    store.ensure_schema()
    for _ in range(3):
        store.run_write(UPSERT, tenant="alpha", parameters={"key": probe_key, "label": "same"})
    count = store.run_read(
        "MATCH (p:Probe {tenant: $tenant, key: $key}) RETURN count(p) AS n",
        tenant="alpha",
        parameters={"key": probe_key},
    )
    assert count == [{"n": 1}]


def test_another_tenant_cannot_read_the_node(probe_key):
    store = graph_store()
    store.run_write(UPSERT, tenant="alpha", parameters={"key": probe_key, "label": "alpha only"})

    assert store.run_read(READ, tenant="beta", parameters={"key": probe_key}) == []


def test_the_caller_cannot_smuggle_another_tenant_through_parameters(probe_key):
    store = graph_store()
    store.run_write(UPSERT, tenant="alpha", parameters={"key": probe_key, "label": "alpha only"})

    rows = store.run_read(READ, tenant="beta", parameters={"key": probe_key, "tenant": "alpha"})

    assert rows == []


@pytest.mark.parametrize("tenant", [None, "", "public"])
def test_calls_without_a_tenant_are_refused(tenant, probe_key):
    store = graph_store()
    with pytest.raises(TenantContextRequired):
        store.run_read(READ, tenant=tenant, parameters={"key": probe_key})
    with pytest.raises(TenantContextRequired):
        store.run_write(UPSERT, tenant=tenant, parameters={"key": probe_key, "label": "x"})


def test_cypher_without_a_tenant_predicate_is_refused():
    with pytest.raises(TenantPredicateMissing):
        graph_store().run_read("MATCH (p:Probe) RETURN count(p) AS n", tenant="alpha")
