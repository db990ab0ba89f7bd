"""Chaos: outages and kills on real processes, and nothing stays stuck, lost or doubled (issue 26).

One stack of its own (PostgreSQL, Redis, Neo4j, the portal under `manage.py serve`, a Celery worker
with beat running the reconciliation), one tenant, uploads through the API as an integrator sends
them. Each scenario breaks something in the middle of a batch, repairs it, and then requires:
every job of the batch finished (succeeded), each file one document, every document in the graph.
The recovery delays are shortened (`RECOVERY`) so a scenario takes a minute, not the five of the
defaults; what recovers is the same code.

| scenario                          | case |
| PostgreSQL stopped mid-batch      | 1    |
| Redis stopped during an upload    | 2    |
| Redis stopped with jobs running   | 2    |
| Neo4j stopped past its retries    | 3    |
| worker killed (-9) at random      | 4    |
| one file uploaded twice at once   | 8    |
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest

from apps.ingestion.worker_process import worker_command
from config.settings.environment import BASE_DIR
from tests.ops.workers import wait_for
from tests.support.live_server import LiveStack

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TENANT, HOST = "chaos", "chaos.localhost"
# Recovery in seconds instead of minutes: reconciliation every 3 s, a job silent for 8 s requeued.
RECOVERY = {
    "CELERY_TASK_ALWAYS_EAGER": "false",
    "INGESTION_RECONCILE_EVERY_SECONDS": "3",
    "INGESTION_STALE_AFTER_SECONDS": "8",
    "GRAPH_STALE_AFTER_SECONDS": "8",
    "INGESTION_RETRY_BACKOFF_SECONDS": "0.5",
    "INGESTION_RETRY_BACKOFF_MAX_SECONDS": "2",
    "INGESTION_MAX_ATTEMPTS": "50",  # an outage longer than the retries is the reconciliation's to repair
}
SETTLE_SECONDS = 240


@dataclass
class Chaos:
    stack: LiveStack
    api_key: str
    home: Path
    worker: subprocess.Popen | None = None

    # --- the worker ---------------------------------------------------------------------------
    def start_worker(self) -> None:
        log = self.home / "worker.log"
        command = [
            *worker_command(queues="ingestion,graph,default", concurrency=2),
            "--beat",
            "--schedule",
            str(self.home / "celerybeat-schedule"),
        ]
        with log.open("ab") as output:
            self.worker = subprocess.Popen(
                command,
                cwd=BASE_DIR,
                env=self.stack.env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for(lambda: "ready." in log.read_text(errors="replace"), what="worker", process=self.worker, log_path=log)

    def kill_worker(self) -> None:
        """SIGKILL to the worker, its pool and beat: no goodbye, no acknowledgement."""
        assert self.worker is not None
        os.killpg(self.worker.pid, signal.SIGKILL)
        self.worker.wait(10)
        log = self.home / "worker.log"
        log.write_text(log.read_text(errors="replace").replace("ready.", "ready (before the kill)"))

    def stop_worker(self) -> None:
        if self.worker is not None and self.worker.poll() is None:
            os.killpg(self.worker.pid, signal.SIGTERM)
            try:
                self.worker.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.worker.pid, signal.SIGKILL)
                self.worker.wait(5)

    # --- the API --------------------------------------------------------------------------------
    def upload(self, files: dict[str, bytes]) -> httpx.Response:
        return httpx.post(
            f"http://127.0.0.1:{self.stack.port}/api/v1/documents/ingest",
            headers={"Host": HOST, "X-API-Key": self.api_key},
            files=[("files", (name, data, "text/markdown")) for name, data in files.items()],
            timeout=60,
        )

    # --- the database, read directly ------------------------------------------------------------
    def rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        with psycopg.connect(self.stack.services["postgres"].url(), connect_timeout=5) as connection:
            return connection.execute(sql.replace("{tenant}", TENANT), params).fetchall()

    def batch_state(self, filenames: list[str]) -> dict[str, int]:
        """Jobs per status, documents, distinct contents and graph-synced documents of a batch."""
        jobs = dict(
            self.rows(
                "SELECT status, count(*) FROM {tenant}.ingestion_ingestionjob WHERE filename = ANY(%s) GROUP BY status",
                (filenames,),
            )
        )
        documents, synced = self.rows(
            "SELECT count(*), count(*) FILTER (WHERE graph_status = 'synced') FROM {tenant}.documents_document "
            "WHERE source = ANY(%s)",
            (filenames,),
        )[0]
        return {**jobs, "documents": documents, "graph_synced": synced}

    def upload_batch(self, tag: str, count: int) -> dict[str, bytes]:
        """`count` files in requests of at most API_INGEST_MAX_FILES (20), all accepted."""
        files = batch(tag, count)
        names = list(files)
        for start in range(0, count, 20):
            answered = self.upload({name: files[name] for name in names[start : start + 20]})
            assert answered.status_code == 202, answered.text
        return files

    def unfinished(self, files: dict[str, bytes]) -> int:
        """Jobs of the batch not yet succeeded: the fault must meet work still to do."""
        return len(files) - self.batch_state(list(files)).get("succeeded", 0)

    def settled(self, filenames: list[str]) -> dict[str, int]:
        """Wait until no job of the batch is queued or running and every document is in the graph."""
        state: dict[str, int] = {}

        def done() -> bool:
            nonlocal state
            try:
                state = self.batch_state(filenames)
            except psycopg.OperationalError:
                return False
            unfinished = state.get("queued", 0) + state.get("running", 0)
            return unfinished == 0 and state["graph_synced"] == state["documents"]

        deadline = time.monotonic() + SETTLE_SECONDS
        while time.monotonic() < deadline and not done():
            time.sleep(1)
        return state


def batch(tag: str, count: int) -> dict[str, bytes]:
    """`count` distinct Markdown files of a few chunks each (so a batch takes the worker a while)."""
    run = uuid.uuid4().hex[:8]
    return {
        f"{tag}-{run}-{n}.md": (
            f"# {tag.title()} rule {n}\n\n"
            + " ".join(
                f"Rule {n}.{line} of run {run}: badge {n * 7 + line} opens door {line * 3}; report incidents of "
                f"kind {line} to desk {(n + line) % 5} within {line + 1} hours."
                for line in range(40)
            )
        ).encode()
        for n in range(count)
    }


def expected(files: dict[str, bytes]) -> dict[str, int]:
    return {"succeeded": len(files), "documents": len(files), "graph_synced": len(files)}


@pytest.fixture(scope="module")
def chaos() -> Iterator[Chaos]:
    # Not under pytest's temporary root (see tests/ops/test_failure_modes.py: PostgreSQL, run as its
    # own user, would lose its data directory when another session resets that root).
    home = Path(tempfile.mkdtemp(prefix="portal-chaos-"))
    home.chmod(0o755)
    stack = LiveStack(home=home)
    chaos = None
    try:
        stack.start(extra_env=RECOVERY)
        created = stack.manage("create_portal_tenant", TENANT, "--domain", HOST, "--admin-email", "it@chaos.example")
        admin = next(line.split()[2] for line in created.stdout.splitlines() if line.startswith("admin user:"))
        api_key = stack.manage(
            "api_key_create", "--tenant", TENANT, "--user", admin, "--name", "chaos", "--scopes", "ingest"
        ).stdout.strip()
        chaos = Chaos(stack=stack, api_key=api_key, home=home)
        chaos.start_worker()
        yield chaos
    finally:
        if chaos is not None:
            chaos.stop_worker()
        stack.stop()


def test_postgres_stopped_mid_batch_loses_and_strands_nothing(chaos):
    files = chaos.upload_batch("postgres", 60)
    wait_for(lambda: chaos.batch_state(list(files)).get("succeeded", 0) > 0, what="the batch to start")

    assert chaos.unfinished(files) > 0, "the batch finished before the outage: nothing would be tested"
    chaos.stack.services["postgres"].stop()
    time.sleep(20)  # longer than a task's first retries
    chaos.stack.services["postgres"].start()

    assert chaos.settled(list(files)) == expected(files)


def test_an_upload_while_redis_is_down_is_kept_and_runs_once_redis_is_back(chaos):
    files = batch("redis", 8)
    chaos.stack.services["redis"].stop()
    try:
        answered = chaos.upload(files)
        # Stored and queued in PostgreSQL (the outbox): the client is told so, not "internal error".
        assert answered.status_code == 202, answered.text
    finally:
        chaos.stack.services["redis"].start()

    assert chaos.settled(list(files)) == expected(files)


def test_redis_stopped_with_jobs_running_the_worker_reconnects_and_finishes_the_batch(chaos):
    # One job running and the worker's other slot waiting on the broker when it goes: Celery 5.7's
    # worker used to exit there (apps/core/broker_consumer.py). It must reconnect and finish alone.
    files = chaos.upload_batch("broker", 1)
    wait_for(lambda: chaos.batch_state(list(files)).get("running", 0) > 0, what="a job to run")
    chaos.stack.services["redis"].stop()
    time.sleep(5)
    chaos.stack.services["redis"].start()

    assert chaos.worker is not None
    assert chaos.worker.poll() is None, "the worker exited on the broker outage"
    assert chaos.settled(list(files)) == expected(files)
    assert chaos.worker.poll() is None


def test_neo4j_stopped_past_the_graph_retries_catches_up_when_it_is_back(chaos):
    files = batch("neo4j", 8)
    chaos.stack.services["neo4j"].stop()
    try:
        assert chaos.upload(files).status_code == 202
        # Searchable (indexed) meanwhile; the graph syncs fail through all their retries.
        wait_for(lambda: chaos.batch_state(list(files)).get("succeeded") == len(files), what="indexing", timeout=120)
        wait_for(
            lambda: (
                chaos.rows(
                    "SELECT count(*) FROM {tenant}.documents_document "
                    "WHERE source = ANY(%s) AND graph_status = 'failed'",
                    (list(files),),
                )[0][0]
                > 0
            ),
            what="graph syncs to give up",
            timeout=120,
        )
    finally:
        chaos.stack.services["neo4j"].start()

    assert chaos.settled(list(files)) == expected(files)


def test_the_worker_killed_at_random_points_loses_and_doubles_nothing(chaos):
    files = chaos.upload_batch("kill", 60)
    pick = random.Random(os.environ.get("CHAOS_SEED", "26"))
    for kill in range(3):
        time.sleep(pick.uniform(0.5, 3.0))
        if kill == 0:
            assert chaos.unfinished(files) > 0, "the batch finished before the first kill: nothing would be tested"
        chaos.kill_worker()
        chaos.start_worker()

    assert chaos.settled(list(files)) == expected(files)
    # Redelivered work replaced chunks, never added a second copy.
    doubled = chaos.rows(
        "SELECT c.document_id FROM {tenant}.documents_chunk c "
        "JOIN {tenant}.documents_document d ON d.id = c.document_id WHERE d.source = ANY(%s) "
        "GROUP BY c.document_id, c.ordinal HAVING count(*) > 1",
        (list(files),),
    )
    assert doubled == []


def test_one_file_uploaded_twice_at_the_same_moment_is_one_document(chaos):
    files = batch("race", 1)
    answers: list[int] = []
    start = threading.Barrier(3)

    def send() -> None:
        start.wait()
        answers.append(chaos.upload(files).status_code)

    senders = [threading.Thread(target=send) for _ in range(3)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join(60)

    assert answers == [202, 202, 202]
    # One upload made the document; the others were told it is a duplicate of it.
    assert chaos.settled(list(files)) == {**expected(files), "skipped": 2}
