"""Dependency checks behind /health/ready and the production start-up guard.

Each check returns a CheckResult quickly (every call has a short timeout) and never raises.
Messages name the failure, never a URL or password.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import redis
from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from apps.integrations.graph.factory import graph_store
from apps.tenants.encryption.keys import tenant_keys_verify


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    detail: str
    duration_ms: float


_migrations_known_applied = False


def _timed(check: Callable[[], str]) -> CheckResult:
    started = time.perf_counter()
    try:
        detail = check()
        ok = True
    except Exception as error:  # noqa: BLE001 - a probe reports any failure instead of crashing
        detail = f"{type(error).__name__}: {str(error).splitlines()[0][:200] if str(error) else ''}"
        ok = False
    return CheckResult(ok=ok, detail=detail, duration_ms=round((time.perf_counter() - started) * 1000, 1))


def _postgres() -> str:
    global _migrations_known_applied
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    if not _migrations_known_applied:
        # Code cannot change under a running process, so once applied stays applied.
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if pending:
            raise RuntimeError(f"{len(pending)} migrations not applied (run the release step: migrate_schemas)")
        _migrations_known_applied = True
    return "reachable, migrations applied"


def _redis() -> str:
    client = redis.Redis.from_url(
        settings.REDIS_URL,
        socket_connect_timeout=settings.REDIS_SOCKET_TIMEOUT,
        socket_timeout=settings.REDIS_SOCKET_TIMEOUT,
    )
    try:
        client.ping()
    finally:
        client.close()
    return "reachable"


def _neo4j() -> str:
    graph_store().verify_connectivity()
    return "reachable"


CHECKS: dict[str, Callable[[], str]] = {
    "postgres": _postgres,
    "redis": _redis,
    "neo4j": _neo4j,
    # A wrong or missing key-encryption key must stop a process before it serves anything.
    "tenant_keys": tenant_keys_verify,
}


def run_checks(names: list[str]) -> dict[str, CheckResult]:
    return {name: _timed(CHECKS[name]) for name in names}
