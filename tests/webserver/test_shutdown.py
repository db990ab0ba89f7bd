"""SIGTERM on the web process: readiness turns 503 at once, in-flight requests finish, the wait is bounded.

A slow in-flight request is made for real: the server's Redis is frozen (SIGSTOP), so the Redis
check of /health/ready waits for its socket timeout.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from django.conf import settings

from apps.core.database import current_database_url
from config.settings.environment import BASE_DIR
from tests.support.embedded import devservices

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def frozen_redis() -> Iterator[devservices.RedisService]:
    home = Path(tempfile.mkdtemp(prefix="portal-shutdown-redis-"))
    redis = devservices.RedisService(home, fast_and_unsafe=True)
    redis.start()
    try:
        yield redis
    finally:
        pid = redis.state.pid if redis.state else None
        if pid:
            os.kill(pid, signal.SIGCONT)
        redis.stop()
        shutil.rmtree(home, ignore_errors=True)


def start_server(
    *, redis_url: str, drain_seconds: float, log_path: Path, workers: int = 1
) -> tuple[subprocess.Popen, int]:
    port = devservices.free_loopback_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": current_database_url(),
        "REDIS_URL": redis_url,
        "REDIS_SOCKET_TIMEOUT": "3",
    }
    with log_path.open("ab") as log:
        server = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "serve",
                "--port",
                str(port),
                "--drain-seconds",
                str(drain_seconds),
                "--workers",
                str(workers),
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    devservices.wait_until(
        lambda: devservices.port_accepts_connections(port), timeout=60, what="manage.py serve", log_file=log_path
    )
    return server, port


def get(port: int, path: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def slow_request_in_background(port: int) -> tuple[threading.Thread, dict]:
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["response"] = get(port, "/health/ready")
        except Exception as error:  # noqa: BLE001 - the test asserts on it
            outcome["error"] = repr(error)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def freeze(redis: devservices.RedisService) -> None:
    assert redis.state is not None
    assert redis.state.pid
    os.kill(redis.state.pid, signal.SIGSTOP)


def test_sigterm_drains_in_flight_requests_and_refuses_readiness(frozen_redis, django_db_setup, tmp_path):
    server, port = start_server(redis_url=frozen_redis.url(), drain_seconds=20, log_path=tmp_path / "serve.log")
    try:
        assert get(port, "/health/ready")[0] == 200
        freeze(frozen_redis)
        thread, outcome = slow_request_in_background(port)
        time.sleep(0.5)  # the request is now waiting on the frozen Redis
        signalled = time.monotonic()
        server.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        status, body = get(port, "/health/ready")
        assert (status, body["status"]) == (503, "draining")
        assert get(port, "/health/live")[0] == 200
        thread.join(30)
        assert "error" not in outcome, outcome
        status, body = outcome["response"]
        # The in-flight request got its full answer (Redis timed out: degraded, but ready).
        assert (status, body["status"], body["checks"]["redis"]) == (200, "degraded", False)
        assert server.wait(15) == 0
        assert time.monotonic() - signalled < 12
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def test_the_drain_is_bounded(frozen_redis, django_db_setup, tmp_path):
    server, port = start_server(redis_url=frozen_redis.url(), drain_seconds=0.5, log_path=tmp_path / "serve.log")
    try:
        freeze(frozen_redis)
        thread, outcome = slow_request_in_background(port)
        time.sleep(0.5)
        signalled = time.monotonic()
        server.send_signal(signal.SIGTERM)
        assert server.wait(15) == 0
        # Stopped at the deadline, not when the slow request would have finished (3 s of Redis timeout).
        assert time.monotonic() - signalled < 2.5
        assert "drain deadline reached" in (tmp_path / "serve.log").read_text()
        thread.join(30)
        assert "response" not in outcome or outcome["response"][0] != 200
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert "drain deadline reached" in (tmp_path / "serve.log").read_text()


def live_children(server: subprocess.Popen) -> list[psutil.Process]:
    return [child for child in psutil.Process(server.pid).children() if child.status() != psutil.STATUS_ZOMBIE]


def test_web_workers_share_the_port_a_dead_one_is_replaced_and_sigterm_stops_them_all(django_db_setup, tmp_path):
    log_path = tmp_path / "serve.log"
    server, port = start_server(redis_url=settings.REDIS_URL, drain_seconds=5, log_path=log_path, workers=2)
    try:
        # The supervisor listens at once; the workers answer once Django is up in them.
        devservices.wait_until(lambda: get(port, "/health/live")[0] == 200, timeout=60, what="a web worker")
        first = live_children(server)
        assert len(first) == 2

        first[0].kill()
        # The other worker keeps serving while the supervisor starts a replacement.
        assert all(get(port, "/health/live")[0] == 200 for _ in range(5))
        devservices.wait_until(
            lambda: len(live_children(server)) == 2 and first[0].pid not in {c.pid for c in live_children(server)},
            timeout=30,
            what="a replacement worker",
        )
        devservices.wait_until(
            lambda: "exited with -9: restarting" in log_path.read_text(),
            timeout=10,
            what="the supervisor's restart line",
            log_file=log_path,
        )

        workers = live_children(server)
        server.send_signal(signal.SIGTERM)
        assert server.wait(20) == 0
        assert not any(worker.is_running() and worker.status() != psutil.STATUS_ZOMBIE for worker in workers)
    finally:
        if server.poll() is None:
            for child in psutil.Process(server.pid).children():
                child.kill()
            server.kill()
            server.wait()


def test_workers_stop_when_their_supervisor_is_killed(django_db_setup, tmp_path):
    """SIGKILL runs no clean-up in the supervisor: the workers must not keep serving on their own."""
    server, port = start_server(
        redis_url=settings.REDIS_URL, drain_seconds=2, log_path=tmp_path / "serve.log", workers=2
    )
    workers: list[psutil.Process] = []
    try:
        devservices.wait_until(lambda: get(port, "/health/live")[0] == 200, timeout=60, what="a web worker")
        devservices.wait_until(lambda: len(live_children(server)) == 2, timeout=30, what="both web workers")
        workers = live_children(server)

        server.kill()
        server.wait()

        gone, alive = psutil.wait_procs(workers, timeout=20)
        assert alive == []
        assert {worker.pid for worker in gone} == {worker.pid for worker in workers}
    finally:
        for worker in workers:
            if worker.is_running():
                worker.kill()
        if server.poll() is None:
            server.kill()
            server.wait()
