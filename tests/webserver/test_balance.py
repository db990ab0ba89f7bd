"""Web workers share new connections by how many each already holds (apps/webserver/balance.py)."""

from __future__ import annotations

import socket
import time

import psutil
import pytest
from django.conf import settings

from apps.webserver import balance
from apps.webserver.balance import LoadTable
from tests.support.embedded import devservices

from .test_shutdown import live_children, start_server


@pytest.fixture
def table() -> LoadTable:
    return LoadTable.create(3)


def test_a_worker_ahead_of_the_least_loaded_by_more_than_the_margin_steps_aside(table):
    table.report(0, 10)
    table.report(1, 10 + balance.MARGIN)
    table.report(2, 40)
    assert not table.should_step_aside(0, 10)
    assert not table.should_step_aside(1, 10 + balance.MARGIN)
    assert table.should_step_aside(2, 40)
    assert table.should_step_aside(1, 11 + balance.MARGIN)


def test_stale_and_forgotten_workers_hold_nobody_back(table, monkeypatch):
    table.report(0, 0)
    table.report(1, 0)
    table.forget(0)  # exited: the supervisor cleared its entry
    later = time.monotonic() + balance.STALE_SECONDS + 0.5
    monkeypatch.setattr(balance.time, "monotonic", lambda: later)  # worker 1 stopped reporting
    assert not table.should_step_aside(2, 500)


def test_a_worker_reads_the_table_the_supervisor_made():
    made = LoadTable.create(2)
    inherited = LoadTable.inherited(made.fd)
    assert inherited.workers == 2
    made.report(1, 7)
    inherited.report(0, 7 + balance.MARGIN + 1)
    assert made.should_step_aside(0, 7 + balance.MARGIN + 1)


def held_connections(worker: psutil.Process, port: int) -> int:
    return sum(1 for c in worker.net_connections("tcp") if c.status == "ESTABLISHED" and c.laddr.port == port)


def both_accept(workers: list[psutil.Process], port: int) -> bool:
    """Whether each worker took one of a few connections (one still starting takes none)."""
    probes = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(6)]
    try:
        time.sleep(0.3)
        return all(held_connections(worker, port) > 0 for worker in workers)
    finally:
        for probe in probes:
            probe.close()


def test_connections_opened_together_are_spread_over_both_workers(django_db_setup, tmp_path):
    log_path = tmp_path / "serve.log"
    server, port = start_server(redis_url=settings.REDIS_URL, drain_seconds=2, log_path=log_path, workers=2)
    clients: list[socket.socket] = []
    try:
        devservices.wait_until(lambda: len(live_children(server)) == 2, timeout=60, what="both web workers")
        workers = live_children(server)
        devservices.wait_until(lambda: both_accept(workers, port), timeout=90, what="both workers to accept")
        devservices.wait_until(
            lambda: all(held_connections(worker, port) == 0 for worker in workers), timeout=30, what="idle workers"
        )
        # Long-lived connections (as sockets are), opened in one burst.
        for _ in range(60):
            clients.append(socket.create_connection(("127.0.0.1", port), timeout=10))
        devservices.wait_until(
            lambda: sum(held_connections(worker, port) for worker in workers) == 60, timeout=30, what="all accepted"
        )
        shares = sorted(held_connections(worker, port) for worker in workers)
        assert shares[0] >= 30 - 2 * balance.MARGIN, shares
    finally:
        for client in clients:
            client.close()
        server.terminate()
        server.wait(30)
