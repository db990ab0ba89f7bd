"""What list_shards prints: each shard's health (web, PostgreSQL, Neo4j) and its tenants with their sizes."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import neo4j
import psycopg
from psycopg import sql

from .catalogue import Placement, Shard, placements_list, shards_list
from .shard_access import ShardUnreachable, shard_servers

PROBE_SECONDS = 3


def _web_ready(shard: Shard) -> bool:
    """The shard's readiness probe answers 200 and names this shard (not a process of another one)."""
    try:
        with urllib.request.urlopen(f"{shard.web_url}/health/ready", timeout=PROBE_SECONDS) as response:  # noqa: S310
            return response.status == 200 and json.loads(response.read()).get("shard") == shard.name
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _tenant_sizes(database_url: str, schema_names: list[str]) -> dict[str, tuple[int, int | None]]:
    sizes: dict[str, tuple[int, int | None]] = {}
    with psycopg.connect(database_url, connect_timeout=PROBE_SECONDS) as conn:
        for schema in schema_names:
            row = conn.execute(
                "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind IN ('r', 'm')",
                [schema],
            ).fetchone()
            has_chunks = conn.execute("SELECT to_regclass(%s)", [f'"{schema}".documents_chunk']).fetchone()
            chunks = None
            if has_chunks and has_chunks[0]:
                query = sql.SQL("SELECT count(*) FROM {}.documents_chunk").format(sql.Identifier(schema))
                counted = conn.execute(query).fetchone()
                chunks = int(counted[0]) if counted else None
            sizes[schema] = (int(row[0]) if row else 0, chunks)
    return sizes


def _neo4j_up(uri: str) -> bool:
    try:
        with neo4j.GraphDatabase.driver(uri, connection_timeout=PROBE_SECONDS) as driver:
            driver.verify_connectivity()
        return True
    except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError, OSError):
        return False


def _shard_entry(shard: Shard, placements: list[Placement]) -> dict[str, Any]:
    health: dict[str, bool] = {"web": _web_ready(shard)}
    sizes: dict[str, tuple[int, int | None]] = {}
    try:
        servers = shard_servers(shard.name)
        try:
            sizes = _tenant_sizes(servers.database_url, [p.schema_name for p in placements])
            health["postgres"] = True
        except psycopg.Error:
            health["postgres"] = False
        health["neo4j"] = _neo4j_up(servers.neo4j_uri)
    except ShardUnreachable:
        health["postgres"] = health["neo4j"] = False
    tenants = [
        {
            "schema_name": placement.schema_name,
            "state": placement.state,
            "bytes": sizes[placement.schema_name][0] if placement.schema_name in sizes else None,
            "chunks": sizes[placement.schema_name][1] if placement.schema_name in sizes else None,
        }
        for placement in placements
    ]
    return {"name": shard.name, "web_url": shard.web_url, "health": health, "tenants": tenants}


def shards_inventory() -> list[dict[str, Any]]:
    placements = placements_list()
    return [
        _shard_entry(shard, [placement for placement in placements if placement.shard == shard.name])
        for shard in shards_list()
    ]
