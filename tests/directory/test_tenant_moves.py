"""`move_tenant`: a tenant moves between shards under load with nothing lost, and a move killed at
any step resumes or rolls back with the tenant whole on exactly one shard."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from email.message import Message
from typing import Any

import neo4j
import psycopg
import pytest

from apps.directory.shard_access import shard_servers
from config.settings.environment import BASE_DIR
from tests.directory.test_routing import _indexed, _upload
from tests.support.cells import Cells

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _placement(cells: Cells, schema: str) -> tuple[str, str]:
    rows = cells.catalogue("SELECT shard, state FROM directory_placement WHERE schema_name = %s", [schema])
    return rows[0]


def _query_logs(shard: str, schema: str) -> int:
    with psycopg.connect(shard_servers(shard).database_url) as conn:
        row = conn.execute(f'SELECT count(*) FROM "{schema}".answers_querylog').fetchone()  # noqa: S608
    assert row is not None
    return int(row[0])


def _seeded_tenant(cells: Cells, label: str) -> dict[str, Any]:
    schema, host, _ = cells.tenant("main", label)
    key = cells.api_key("main", schema)
    document = _upload(cells, key, "expenses", "Hotel stays are refunded up to 180 euros per night in big cities.")
    _indexed(cells, key, document)
    return {"schema": schema, "host": host, "key": key, "document": document}


def _ask(cells: Cells, key: str) -> tuple[int, Message, Any]:
    return cells.api(
        "/api/v1/query",
        key,
        method="POST",
        payload={"question": "How much are hotel stays refunded per night in big cities?"},
    )


def _start_move(cells: Cells, schema: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "move_tenant", schema, *extra],
        cwd=BASE_DIR,
        env=cells.environment("main"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # killed with its step's command, as a crashed host would lose both
    )


def _kill_when(cells: Cells, move: subprocess.Popen, schema: str, step: str) -> None:
    """SIGKILL the move (and the step it is running) as soon as the catalogue shows `step` started."""
    cells.wait_for(
        lambda: (
            move.poll() is not None
            or cells.catalogue(
                "SELECT 1 FROM directory_move_step WHERE schema_name = %s AND step = %s AND status = 'started'",
                [schema, step],
            )
        ),
        what=f"step {step}",
        timeout=180,
    )
    assert move.poll() is None, move.communicate()
    os.killpg(move.pid, signal.SIGKILL)
    move.wait()


def _whole_on(cells: Cells, tenant: dict, shard: str) -> None:
    """The tenant lives on `shard` only, and answers from there through the directory."""
    other = "b" if shard == "main" else "main"
    assert _placement(cells, tenant["schema"]) == (shard, "active")
    assert tenant["schema"] in cells.schemas(shard)
    assert tenant["schema"] not in cells.schemas(other)
    assert cells.chunk_nodes(other, tenant["schema"]) == 0
    status, _, answer = _ask(cells, tenant["key"])
    assert status == 200, answer
    assert "180 euros" in answer["answer"]
    assert answer["legs"] == {"dense": "ok", "keyword": "ok", "graph": "ok"}


def test_a_tenant_moves_under_load_and_nothing_is_lost(cells):
    tenant = _seeded_tenant(cells, "load")
    # As on a shard whose graph was never written to: the move must make the graph leg's indexes.
    with neo4j.GraphDatabase.driver(shard_servers("b").neo4j_uri) as driver:
        driver.execute_query("DROP INDEX entity_key_words IF EXISTS")
    statuses: Counter = Counter()
    unexpected: list = []
    answered = 0
    uploaded: list[int] = []
    stop = threading.Event()

    def ask_and_read() -> None:
        nonlocal answered
        while not stop.is_set():
            status, headers, body = _ask(cells, tenant["key"])
            statuses[("ask", status)] += 1
            if status == 200:
                answered += 1
            elif status != 503 or headers.get("Retry-After") is None or body["error"]["code"] != "tenant_moving":
                unexpected.append(("ask", status, body))
            time.sleep(0.6)  # within the key's question budget: a 429 here would be the test's own doing
            status, _, body = cells.api("/api/v1/history", tenant["key"])  # reads are served throughout
            if status != 200:
                unexpected.append(("read", status, body))
            time.sleep(0.6)

    def ingest_a_batch() -> None:
        for number in range(6):
            while not stop.is_set():
                status, _, raw = cells.request(
                    "/api/v1/documents/ingest", method="POST", body=_multipart(f"batch-{number}"),
                    headers={"X-API-Key": tenant["key"], "Content-Type": "multipart/form-data; boundary=b0undary"},
                )  # fmt: skip
                statuses[("upload", status)] += 1
                if status == 202:
                    uploaded.append(json.loads(raw)["jobs"][0]["document_id"])
                    break
                if status != 503:
                    unexpected.append(("upload", status, raw[:200]))
                    return
                time.sleep(1)  # Retry-After says 15 s; the test is impatient
            time.sleep(1.5)

    workers = [threading.Thread(target=ask_and_read), threading.Thread(target=ingest_a_batch)]
    for worker in workers:
        worker.start()
    time.sleep(2)
    try:
        moved = cells.manage("main", "move_tenant", tenant["schema"], "--to", "b", check=False)
        time.sleep(3)
    finally:
        stop.set()
        for worker in workers:
            worker.join(60)
    assert moved.returncode == 0, moved.stderr[-2000:]
    assert not unexpected, unexpected[:5]
    assert statuses[("ask", 503)] > 0, statuses  # the freeze was felt ...
    assert statuses[("ask", 200)] > 0, statuses
    assert len(uploaded) == 6, statuses  # ... and every upload got through in the end
    for document_id in uploaded:
        _indexed(cells, tenant["key"], document_id, timeout=180)
    # Every answer given was logged, and the log is on the tenant's new shard.
    assert _query_logs("b", tenant["schema"]) == answered
    _whole_on(cells, tenant, "b")


def _multipart(title: str) -> bytes:
    return (
        f'--b0undary\r\nContent-Disposition: form-data; name="files"; filename="{title}.txt"\r\n'
        f"Content-Type: text/plain\r\n\r\nBatch document {title} on the per diem rules.\r\n--b0undary--\r\n"
    ).encode()


def test_a_move_killed_while_importing_leaves_the_tenant_on_its_source_and_resumes(cells):
    tenant = _seeded_tenant(cells, "killed")
    move = _start_move(cells, tenant["schema"], "--to", "b")
    _kill_when(cells, move, tenant["schema"], "import")
    # Still whole on the source: reads served, writes asked to wait.
    assert _placement(cells, tenant["schema"]) == ("main", "moving")
    status, _, _ = cells.api("/api/v1/history", tenant["key"])
    assert status == 200
    status, headers, body = _ask(cells, tenant["key"])
    assert status == 503
    assert body["error"]["code"] == "tenant_moving"
    assert headers.get("Retry-After")
    resumed = cells.manage("main", "move_tenant", tenant["schema"], "--to", "b", check=False)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    _whole_on(cells, tenant, "b")


def test_a_move_killed_while_exporting_rolls_back_with_abort(cells):
    tenant = _seeded_tenant(cells, "aborted")
    move = _start_move(cells, tenant["schema"], "--to", "b")
    _kill_when(cells, move, tenant["schema"], "export")
    aborted = cells.manage("main", "move_tenant", tenant["schema"], "--abort", check=False)
    assert aborted.returncode == 0, aborted.stderr[-2000:]
    _whole_on(cells, tenant, "main")  # and writable again: the question above was answered and logged


def test_a_move_killed_after_the_switch_finishes_when_run_again(cells):
    tenant = _seeded_tenant(cells, "switched")
    move = _start_move(cells, tenant["schema"], "--to", "b")
    _kill_when(cells, move, tenant["schema"], "remove_source")
    assert _placement(cells, tenant["schema"]) == ("b", "active")  # the switch is what decides
    resumed = cells.manage("main", "move_tenant", tenant["schema"], "--to", "b", check=False)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    _whole_on(cells, tenant, "b")
    again = cells.manage("main", "move_tenant", tenant["schema"], "--to", "b")
    assert "nothing to do" in again.stdout


def test_a_move_to_an_unknown_shard_or_of_an_unplaced_tenant_is_refused(cells):
    result = cells.manage("main", "move_tenant", "nobody_here", "--to", "b", check=False)
    assert result.returncode != 0
    assert "not placed on any shard" in result.stderr
    tenant = _seeded_tenant(cells, "stays")
    result = cells.manage("main", "move_tenant", tenant["schema"], "--to", "zz", check=False)
    assert result.returncode != 0
    assert "no shard 'zz'" in result.stderr
    _whole_on(cells, tenant, "main")  # not frozen by the refused move
