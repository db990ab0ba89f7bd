"""Stopping the server processes the tests start, and everything they started in turn."""

from __future__ import annotations

import os
import signal
import subprocess


def process_group_stop(process: subprocess.Popen, *, grace_seconds: float) -> None:
    """SIGTERM, then SIGKILL to the whole process group if it has not exited within the grace period.

    The process must have been started with `start_new_session=True`: then it leads its own group,
    and a hung teardown also kills what it forked (web workers under `manage.py serve`, a Celery
    worker's pool), which `Popen.kill()` would leave running to hold ports and take later tests' tasks.
    """
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(grace_seconds)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
