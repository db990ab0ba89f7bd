"""A live portal (`manage.py serve`: two daphne workers on one socket, pooled database connections)
on the session's test database and Redis, for socket and browser tests.

Unlike tests/support/live_server.py (which brings its own throwaway PostgreSQL, Redis and Neo4j for
failure-mode tests), this server shares the test services, so tenants and documents committed by
the test are visible to it, and a real Celery worker can ingest for it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from apps.core.database import current_database_url
from config.settings.environment import BASE_DIR
from tests.support.embedded import devservices
from tests.support.processes import process_group_stop


@dataclass(frozen=True)
class LivePortal:
    port: int
    log_path: Path
    pid: int  # the supervisor's; its web workers share its process group

    def url(self, host: str, path: str = "/") -> str:
        return f"http://{host}:{self.port}{path}"

    def ws_url(self, host: str, path: str = "/ws/ask/") -> str:
        return f"ws://{host}:{self.port}{path}"


def _live(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/live", timeout=2) as response:
            return response.status == 200
    except (OSError, urllib.error.URLError):
        return False


@contextmanager
def live_portal(*, log_path: Path, extra_env: dict[str, str] | None = None) -> Iterator[LivePortal]:
    port = devservices.free_loopback_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": current_database_url(),
        "CELERY_TASK_ALWAYS_EAGER": "false",  # uploads go to the real worker
        "SHUTDOWN_DRAIN_SECONDS": "3",  # a test's last open socket does not hold up teardown
        **(extra_env or {}),
    }
    with log_path.open("ab") as log:
        server = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--port", str(port), "--workers", "2"],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: a hung teardown kills the workers too
        )
    try:
        # The supervisor listens at once; wait until a worker answers.
        devservices.wait_until(lambda: _live(port), timeout=60, what="the portal's web workers", log_file=log_path)
        yield LivePortal(port=port, log_path=log_path, pid=server.pid)
    finally:
        process_group_stop(server, grace_seconds=15)
