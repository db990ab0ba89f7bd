"""The pooled database backend fails fast while the server refuses connections (issue 26, case 9).

The end-to-end check, PostgreSQL really stopped under a live portal, is in
tests/ops/test_failure_modes.py; here the probe itself, on real sockets."""

from __future__ import annotations

import socket
import tempfile
from pathlib import Path

import pytest

from apps.core.postgresql_backend.base import _probe
from tests.support.embedded import devservices


def test_a_listening_port_is_reachable():
    with socket.create_server(("127.0.0.1", 0)) as server:
        assert _probe(host="127.0.0.1", port=server.getsockname()[1], timeout=1.0) is None


def test_a_closed_port_is_reported_at_once():
    error = _probe(host="127.0.0.1", port=devservices.free_loopback_port(), timeout=1.0)

    assert error is not None
    assert "does not accept connections" in error
    assert "127.0.0.1" not in error  # never where the database is


def test_a_unix_socket_directory_is_probed_as_libpq_reads_it():
    with tempfile.TemporaryDirectory() as directory:
        assert _probe(host=directory, port=5432, timeout=1.0) is not None
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
            server.bind(str(Path(directory) / ".s.PGSQL.5432"))
            server.listen()
            assert _probe(host=directory, port=5432, timeout=1.0) is None


@pytest.mark.django_db
def test_the_backend_in_use_is_the_fail_fast_one():
    from django.db import connections

    from apps.core.postgresql_backend.base import DatabaseWrapper

    assert isinstance(connections["default"], DatabaseWrapper)
