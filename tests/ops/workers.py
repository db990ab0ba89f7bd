"""Real Celery worker processes for the operations tests, in their own process group so a test can
stop one the way an orchestrator does (SIGTERM) or kill it with its pool (SIGKILL)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from apps.core.database import current_database_url
from apps.ingestion.worker_process import worker_command
from config.settings.environment import BASE_DIR


@contextmanager
def running_worker(
    *, log_path: Path, env: dict[str, str] | None = None, queues: str = "ingestion,graph,default", include: str = ""
) -> Iterator[subprocess.Popen]:
    command = [*worker_command(queues=queues, concurrency=1), "--without-heartbeat"]
    if include:
        command += ["--include", include]
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": current_database_url(),
        "LOG_FORMAT": "json",
        **(env or {}),
    }
    with log_path.open("ab") as log:
        worker = subprocess.Popen(
            command, cwd=BASE_DIR, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_for(
            lambda: "ready." in log_path.read_text(errors="replace"),
            what="worker ready",
            process=worker,
            log_path=log_path,
        )
        yield worker
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(5)


def wait_for(
    predicate, *, what: str, timeout: float = 60, process: subprocess.Popen | None = None, log_path: Path | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if process is not None and process.poll() is not None:
            break
        time.sleep(0.2)
    tail = log_path.read_text(errors="replace")[-3000:] if log_path else ""
    raise AssertionError(f"timed out waiting for {what}\n{tail}")
