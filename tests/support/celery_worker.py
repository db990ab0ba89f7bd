"""A real Celery worker process on the test database and the test Redis broker."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from apps.core.database import current_database_url
from apps.ingestion.worker_process import worker_command
from config.settings.environment import BASE_DIR
from tests.support.processes import process_group_stop


@contextmanager
def celery_worker(
    *, log_path: Path, extra_env: dict[str, str] | None = None, queues: str = "ingestion,graph,default"
) -> Iterator[subprocess.Popen]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": current_database_url(),
        **(extra_env or {}),
    }
    with log_path.open("ab") as log:
        worker = subprocess.Popen(
            [*worker_command(queues=queues, concurrency=1), "--without-heartbeat"],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: a hung teardown kills its pool too
        )
    try:
        _wait_ready(log_path, worker)
        yield worker
    finally:
        process_group_stop(worker, grace_seconds=20)


def _wait_ready(log_path: Path, worker: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise RuntimeError(f"celery worker exited early:\n{log_path.read_text(errors='replace')[-3000:]}")
        if "ready." in log_path.read_text(errors="replace"):
            return
        time.sleep(0.2)
    raise RuntimeError(f"celery worker not ready in {timeout}s:\n{log_path.read_text(errors='replace')[-3000:]}")
