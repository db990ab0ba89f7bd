"""A deleted tenant's knowledge graph goes with it, and a tenant created again under the same
schema name starts with an empty graph (its chunk and document ids restart at 1)."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from apps.integrations.graph.knowledge import GraphChunk, graph_document_replace, graph_stats
from apps.text.entities import ExtractedEntity, entity_key
from tests.support.committed import committed_tenant

pytestmark = pytest.mark.integration

EMPTY = {"documents": 0, "chunks": 0, "entities": 0, "mentions": 0, "related": 0}


def chunk(chunk_id: int, *names: str) -> GraphChunk:
    entities = [ExtractedEntity(key=entity_key(name), name=name, kind="name", weight=0.5) for name in names]
    return GraphChunk(chunk_id=chunk_id, acl=["tenant:all"], entities=entities)


def test_deleting_a_tenant_removes_its_graph_and_leaves_other_tenants_graphs(committed_db):
    with committed_tenant("gone") as kept:
        with committed_tenant("gone") as deleted:
            for tenant in (kept, deleted):
                graph_document_replace(tenant=tenant.schema_name, document_id=1, chunks=[chunk(1, "Oslo", "Bergen")])
            assert graph_stats(tenant=deleted.schema_name)["chunks"] == 1
        # committed_tenant deleted the inner tenant on leaving the block.

        assert graph_stats(tenant=deleted.schema_name) == EMPTY
        kept_graph = {"documents": 1, "chunks": 1, "entities": 2, "mentions": 2, "related": 1}
        assert graph_stats(tenant=kept.schema_name) == kept_graph


def test_a_graph_left_by_a_deleted_tenant_is_purged_and_a_live_tenants_is_refused(committed_db):
    orphan = "left_behind_graph"
    graph_document_replace(tenant=orphan, document_id=1, chunks=[chunk(1, "Oslo", "Bergen"), chunk(2, "Oslo")])
    out = StringIO()

    call_command("purge_tenant_graph", schema=orphan, stdout=out)

    assert graph_stats(tenant=orphan) == EMPTY
    assert "2 chunks, 2 entities" in out.getvalue()
    with committed_tenant("live") as live:
        graph_document_replace(tenant=live.schema_name, document_id=1, chunks=[chunk(1, "Oslo")])
        with pytest.raises(CommandError, match="live tenant"):
            call_command("purge_tenant_graph", schema=live.schema_name)
        assert graph_stats(tenant=live.schema_name)["chunks"] == 1
