"""Two shards of the test services behind the directory, each with its own web process and worker.

`make test` starts them (`devservices.py up --profile test --shards b`): shard `main` is the profile's
PostgreSQL, Redis and Neo4j, shard `b` has servers of its own, the directory is HAProxy. Here each
shard gets a real `manage.py serve` and a real Celery worker, started with PORTAL_SHARD and nothing
else, so they find their servers as a deployment's processes do. They use each server's `portal`
database (not the test database): the shards are the system under test, reached over HTTP, the
socket and their own commands, never through this process's Django connection.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from email.message import Message
from functools import partial
from pathlib import Path
from typing import Any

import neo4j
import psycopg

from apps.directory.shard_access import shard_servers
from apps.ingestion.worker_process import worker_command
from config.settings.environment import BASE_DIR
from tests.support.embedded import devservices
from tests.support.processes import process_group_stop

SHARDS = ("main", "b")
PROFILE = os.environ.get("PORTAL_SERVICES_PROFILE", "test")


def _require(variable: str) -> str:
    value = os.environ.get(variable, "")
    if not value:
        raise RuntimeError(
            f"{variable} is not set: the shard tests need the directory and shard b "
            f"(`make test`, or `devservices.py up --profile {PROFILE} --shards b`)."
        )
    return value


@dataclass
class Cells:
    home: Path
    directory_url: str
    catalogue_url: str
    web_ports: dict[str, int] = field(default_factory=dict)
    web_processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def environment(self, shard: str) -> dict[str, str]:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "PORTAL_TEST_CELL": "1",
            "CELERY_TASK_ALWAYS_EAGER": "false",  # each shard's own worker does the work
            "TENANT_MOVE_WAIT_SECONDS": "120",
        }
        for name in ("DATABASE_URL", "REDIS_URL", "NEO4J_URI"):
            env.pop(name, None)  # each shard's process finds its own servers from PORTAL_SHARD
        env["PORTAL_SHARD"] = shard
        return env

    def manage(self, shard: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=BASE_DIR,
            env=self.environment(shard),
            capture_output=True,
            text=True,
            check=check,
            timeout=600,
        )

    def tenant(self, shard: str, label: str) -> tuple[str, str, str]:
        """A new tenant on `shard`: (schema, host, admin password)."""
        schema = f"{label}_{uuid.uuid4().hex[:8]}"
        host = f"{schema.replace('_', '-')}.localhost"
        result = self.manage(shard, "create_portal_tenant", schema, "--domain", host, "--admin-email",
                             f"admin@{host}", "--shard", shard)  # fmt: skip
        password = result.stdout.split("password: ")[1].split()[0]
        return schema, host, password

    def api_key(self, shard: str, schema: str, scopes: str = "query,ingest") -> str:
        result = self.manage(shard, "api_key_create", "--tenant", schema, "--user", "admin", "--name", "t",
                             "--scopes", scopes)  # fmt: skip
        return next(word for word in result.stdout.split() if word.startswith("kp_"))

    def request(
        self, path: str, *, host: str = "localhost", method: str = "GET", headers: dict | None = None,
        body: bytes | None = None, via: str | None = None, timeout: float = 60,
    ) -> tuple[int, Message, bytes]:  # fmt: skip
        """Through the directory (or straight to a shard's web process: via="main"); redirects not followed."""
        port = self.directory_port if via is None else self.web_ports[via]
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        try:
            connection.request(method, path, body=body, headers={"Host": host, **(headers or {})})
            response = connection.getresponse()
            return response.status, response.headers, response.read()
        finally:
            connection.close()

    @property
    def directory_port(self) -> int:
        return int(self.directory_url.rsplit(":", 1)[1])

    def api(
        self, path: str, key: str, *, method: str = "GET", payload: dict | None = None, **kwargs: Any
    ) -> tuple[int, Message, Any]:
        body = json.dumps(payload).encode() if payload is not None else None
        headers = {"X-API-Key": key, "Content-Type": "application/json", **kwargs.pop("headers", {})}
        status, response_headers, raw = self.request(path, method=method, headers=headers, body=body, **kwargs)
        return status, response_headers, (json.loads(raw) if raw and raw[:1] in b"{[" else raw)

    def schemas(self, shard: str) -> set[str]:
        url = shard_servers(shard).database_url
        with psycopg.connect(url) as conn:
            return {row[0] for row in conn.execute("SELECT nspname FROM pg_namespace").fetchall()}

    def chunk_nodes(self, shard: str, schema: str) -> int:
        """The tenant's chunk nodes in the shard's own Neo4j."""
        with neo4j.GraphDatabase.driver(shard_servers(shard).neo4j_uri) as driver:
            records, _, _ = driver.execute_query(
                "MATCH (c:Chunk {tenant: $tenant}) RETURN count(c) AS n", tenant=schema
            )
        return int(records[0]["n"])

    def wait_for(self, predicate, *, what: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.5)

    def catalogue(self, sql: str, parameters: list | None = None) -> list[tuple]:
        with psycopg.connect(self.catalogue_url) as conn:
            return conn.execute(sql, parameters or []).fetchall()


@contextmanager
def _process(command: list[str], *, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    with log.open("ab") as out:
        process = subprocess.Popen(
            command, cwd=BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield process
    finally:
        process_group_stop(process, grace_seconds=20)


def _ready(port: int, shard: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=3) as response:
            return json.loads(response.read()).get("shard") == shard
    except (OSError, urllib.error.URLError, ValueError):
        return False


@contextmanager
def running_cells(home: Path) -> Iterator[Cells]:
    cells = Cells(home=home, directory_url=_require("DIRECTORY_URL"), catalogue_url=_require("DIRECTORY_DATABASE_URL"))
    _require("DIRECTORY_HAPROXY_HOME")
    with psycopg.connect(cells.catalogue_url, autocommit=True) as conn:
        # A fresh catalogue for this session (the test profile's servers outlive one run).
        conn.execute(
            "DROP TABLE IF EXISTS directory_route, directory_placement, directory_move_step, directory_shard, "
            "directory_meta CASCADE; DROP SEQUENCE IF EXISTS directory_change"
        )
    with ExitStack() as stack:
        for shard in SHARDS:
            cells.manage(shard, "migrate_schemas", "--noinput", "-v", "0")
            cells.manage(shard, "ensure_public_tenant", "--domain", "localhost")
            port = devservices.free_loopback_port()
            cells.web_ports[shard] = port
            cells.web_processes[shard] = stack.enter_context(_process(
                [sys.executable, "manage.py", "serve", "--port", str(port), "--workers", "1"],
                env={**cells.environment(shard), "SHUTDOWN_DRAIN_SECONDS": "2", "CELERY_TASK_ALWAYS_EAGER": "false"},
                log=home / f"web-{shard}.log",
            ))  # fmt: skip
            stack.enter_context(_process(
                [*worker_command(queues="ingestion,graph,default", concurrency=1), "--without-heartbeat"],
                env=cells.environment(shard),
                log=home / f"worker-{shard}.log",
            ))  # fmt: skip
        for shard, port in cells.web_ports.items():
            devservices.wait_until(partial(_ready, port, shard), timeout=90, what=f"shard {shard}'s web process",
                                   log_file=home / f"web-{shard}.log")  # fmt: skip
            cells.manage(shard, "register_shard", shard, "--web-url", f"http://127.0.0.1:{port}")
        _wait_for_workers(home)
        yield cells


def _wait_for_workers(home: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all("ready." in (home / f"worker-{shard}.log").read_text(errors="replace") for shard in SHARDS):
            return
        time.sleep(0.3)
    raise RuntimeError("the shards' Celery workers did not start; see their logs in " + str(home))
