"""Celery workers started by our own tools on this machine (benchmarks, tests)."""

from __future__ import annotations

import sys


def worker_command(*, queues: str, concurrency: int, loglevel: str = "INFO") -> list[str]:
    """The command line of a prefork worker on the given queues, with this interpreter."""
    return [
        sys.executable, "-m", "celery", "-A", "config.celery_app", "worker", "-Q", queues,
        "--concurrency", str(concurrency), "--pool", "prefork", "--loglevel", loglevel,
        "--without-gossip", "--without-mingle",
    ]  # fmt: skip
