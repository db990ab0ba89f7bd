"""The steps of a move that touch one shard's data, each run by a command of that shard.

`manage.py tenant_move_part ACTION SCHEMA [--folder F]` calls one of these in a process started with
the shard's own servers (apps/directory/shard_access.py); each returns what it did as JSON-able data.
Audit events go to the tenant's own chain on the shard where the step happens (the source's events
travel with the copy), written before a dump and after a fingerprint so that both copies compare equal.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.db import connection
from django_tenants.utils import schema_context

from apps.audit.services import audit_event_record
from apps.ingestion.models import IngestionJob
from apps.ingestion.reconcile import ingestion_resume_everything
from apps.integrations.graph.factory import graph_schema_ensure
from apps.tenants.encryption.keys import data_keys_forget, tenant_data_keys_open_all
from apps.tenants.freeze import tenant_writes_freeze, tenant_writes_thaw
from apps.tenants.models import Tenant

from ..backups import tenant_graph_counts, tenant_graph_delete, tenant_graph_export, tenant_graph_import
from ..tenant_backups import pg_tool
from .public_rows import public_rows_digest, public_rows_export, public_rows_import

MOVER = "operator:move_tenant"
# Independent of the rows' physical order: each row's text hashed, the hashes sorted and hashed again.
_TABLE_DIGEST = "SELECT count(*), coalesce(md5(string_agg(md5(t::text), '' ORDER BY md5(t::text))), '') FROM %s AS t"


class MovePartError(Exception):
    """A step could not be done on this shard; nothing of the tenant's data changed by it."""


def _audit(schema_name: str, action: str, **details: Any) -> None:
    with schema_context(schema_name):
        audit_event_record(action=f"tenant.move.{action}", actor=MOVER, target=f"tenant:{schema_name}", details=details)


def part_freeze(*, schema_name: str, wait_seconds: float = 300.0, **_: Any) -> dict:
    """Freeze the tenant's writes, then wait for ingestion already running to finish (none starts now)."""
    tenant_writes_freeze(schema_name=schema_name, actor=MOVER)
    deadline = time.monotonic() + wait_seconds
    while True:
        with schema_context(schema_name):
            running = IngestionJob.objects.filter(status=IngestionJob.Status.RUNNING).count()
        if running == 0:
            break
        if time.monotonic() > deadline:
            tenant_writes_thaw(schema_name=schema_name, actor=MOVER)
            raise MovePartError(
                f"{running} ingestion jobs were still running after {wait_seconds:.0f} s; writes thawed"
            )
        time.sleep(0.5)
    _audit(schema_name, "freeze")
    return {"frozen": True}


def part_export(*, schema_name: str, folder: Path, **_: Any) -> dict:
    _audit(schema_name, "export")
    folder.mkdir(parents=True, exist_ok=True)
    pg_tool("pg_dump", "--schema", schema_name, "--format=custom", "--no-owner", "--file", str(folder / "schema.dump"))
    with open(folder / "graph.jsonl", "w", encoding="utf-8") as out:
        graph = tenant_graph_export(tenant=schema_name, out=out)
    (folder / "public.json").write_text(json.dumps(public_rows_export(schema_name=schema_name)))
    return {"nodes": graph.nodes, "relationships": graph.relationships}


def part_discard(*, schema_name: str, **_: Any) -> dict:
    """Remove every trace of the tenant from this shard: its schema, its public rows (its data keys
    with them), its graph. The orchestrator calls it only where the catalogue does not place the tenant."""
    live = Tenant.objects.filter(schema_name=schema_name, is_active=True, writes_frozen_at__isnull=True).exists()
    if live:
        raise MovePartError(f"tenant {schema_name!r} is live on this shard (active, writes open): not discarded")
    data_keys_forget()
    Tenant.objects.filter(schema_name=schema_name).delete()
    with connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {connection.ops.quote_name(schema_name)} CASCADE")
    nodes = tenant_graph_delete(tenant=schema_name)
    audit_event_record(action="tenant.move.discard", actor=MOVER, target=f"tenant:{schema_name}")
    return {"graph_nodes_deleted": nodes}


def part_import(*, schema_name: str, folder: Path, **_: Any) -> dict:
    part_discard(schema_name=schema_name)  # what an interrupted earlier attempt left here
    # A shard whose graph has never been written to has no constraints and indexes yet (the graph
    # leg's full-text entity index among them): made before the first node arrives.
    graph_schema_ensure()
    pg_tool("pg_restore", "--no-owner", str(folder / "schema.dump"))
    public_rows_import(export=json.loads((folder / "public.json").read_text()))
    with open(folder / "graph.jsonl", encoding="utf-8") as lines:
        graph = tenant_graph_import(tenant=schema_name, lines=lines)
    return {"nodes": graph.nodes, "relationships": graph.relationships}


def part_fingerprint(*, schema_name: str, **_: Any) -> dict:
    """Row counts and checksums of every table of the schema, the public rows' digest, graph counts."""
    quoted_schema = connection.ops.quote_name(schema_name)
    tables: dict[str, list] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind = 'r' ORDER BY c.relname",
            [schema_name],
        )
        for (table,) in cursor.fetchall():
            # Both names are quoted identifiers read from pg_class, never input.
            relation = f"{quoted_schema}.{connection.ops.quote_name(table)}"
            cursor.execute(_TABLE_DIGEST % relation)
            count, digest = cursor.fetchone()
            tables[table] = [int(count), digest]
        cursor.execute("SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = %s", [schema_name])
        sequences = {name: value for name, value in cursor.fetchall()}
    return {
        "tables": tables,
        "sequences": sequences,
        "public": public_rows_digest(public_rows_export(schema_name=schema_name)),
        "graph": tenant_graph_counts(tenant=schema_name),
    }


def part_keys_check(*, schema_name: str, **_: Any) -> dict:
    """The target can open the tenant's data keys with its own key-encryption key."""
    return {"data_keys_opened": tenant_data_keys_open_all(schema_name=schema_name)}


def part_activate(*, schema_name: str, **_: Any) -> dict:
    """On the target, before the catalogue switches: the tenant is served here (still frozen)."""
    Tenant.objects.get(schema_name=schema_name)  # raises if the import is missing
    for tenant in Tenant.objects.filter(schema_name=schema_name, is_active=False):
        tenant.is_active = True
        tenant.save(update_fields=["is_active"])
    _audit(schema_name, "switch")
    return {"active": True}


def part_thaw(*, schema_name: str, **_: Any) -> dict:
    """On the target, after the switch: writes open, and work copied unfinished is sent on at once."""
    tenant_writes_thaw(schema_name=schema_name, actor=MOVER)
    with schema_context(schema_name):
        resumed = ingestion_resume_everything()
    _audit(schema_name, "thaw", **resumed)
    return resumed


PARTS: dict[str, Callable[..., dict]] = {
    "freeze": part_freeze,
    "export": part_export,
    "discard": part_discard,
    "import": part_import,
    "fingerprint": part_fingerprint,
    "keys-check": part_keys_check,
    "activate": part_activate,
    "thaw": part_thaw,
}
