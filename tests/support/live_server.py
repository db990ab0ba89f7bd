"""A real portal process (`manage.py serve`, daphne) on its own throwaway PostgreSQL, Redis and Neo4j.

Failure-mode tests stop and restart these processes for real; the session's shared services are
never touched.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from config.settings.environment import BASE_DIR
from tests.support.processes import process_group_stop

from .embedded import devservices


@dataclass
class LiveStack:
    home: Path
    services: dict[str, devservices.EmbeddedService] = field(default_factory=dict)
    port: int = 0
    server: subprocess.Popen | None = None

    def start(self, *, settings_module: str = "config.settings.test", extra_env: dict[str, str] | None = None) -> None:
        self.services = {
            "postgres": devservices.PostgresService(self.home / "postgres", fast_and_unsafe=True),
            "redis": devservices.RedisService(self.home / "redis", fast_and_unsafe=True),
            "neo4j": devservices.Neo4jService(self.home / "neo4j", fast_and_unsafe=True),
        }
        for service in self.services.values():
            service.start()
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": settings_module,
            "DATABASE_URL": self.services["postgres"].url(),
            "REDIS_URL": self.services["redis"].url(),
            "NEO4J_URI": self.services["neo4j"].url(),
            **(extra_env or {}),
        }
        self.manage("migrate_schemas", "--noinput", "-v", "0")
        self.port = devservices.free_loopback_port()
        log = (self.home / "daphne.log").open("ab")
        # The production web process (pooled database connections), one worker so nothing is shared.
        self.server = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--port", str(self.port), "--workers", "1"],
            cwd=BASE_DIR,
            env={**self.env, "SHUTDOWN_DRAIN_SECONDS": "3"},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: a hung teardown kills its web worker too
        )
        devservices.wait_until(
            lambda: devservices.port_accepts_connections(self.port),
            timeout=60,
            what="manage.py serve",
            log_file=self.home / "daphne.log",
        )

    def manage(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=self.env, check=True, capture_output=True, text=True
        )

    def get_json(self, path: str, *, host: str | None = None, timeout: float = 30) -> tuple[int, dict]:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}")
        if host:
            request.add_header("Host", host)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - loopback http only
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    def wait_for(self, predicate, *, timeout: float = 60, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.5)
        raise AssertionError(f"timed out waiting for {what}")

    def stop(self) -> None:
        if self.server:
            process_group_stop(self.server, grace_seconds=15)
        for service in self.services.values():
            service.stop()
