"""Django's PostgreSQL backend, failing fast when the pooled database server refuses connections.

With the connection pool (the web process, apps/core/database.py), a request that needs a new
connection waits up to DATABASE_POOL_TIMEOUT (10 s) for the pool to open one. With PostgreSQL down
that is every request: each hung 10 s before its 503, longer than a load balancer's readiness
timeout, and the threads piled up. Here, before taking a connection from the pool, the server's
port is probed (a TCP or Unix-socket connect, at most once per second per process, bounded by
DATABASE_REACHABILITY_TIMEOUT): refused or unreachable fails the request at once with the usual
database error, which the pages and the API answer with 503 and Retry-After. A server that accepts
the connect (up, or merely busy) is waited for as before.

A connection taken from the pool is probed (an empty query) only when it sat idle longer than
PROBE_IDLE_SECONDS: under load every checkout found one that had just been handed back, and the
probe was a round trip per request. One that fails its probe is discarded and another taken, so
a restarted server costs no request an error.

django-tenants wraps this backend (settings.ORIGINAL_BACKEND).
"""

from __future__ import annotations

import socket
import threading
import time

from django.conf import settings
from django.db.backends.postgresql import base as postgresql
from psycopg_pool import ConnectionPool

from apps.core.database import pooled_connection_idle_seconds

PROBE_EVERY_SECONDS = 1.0
PROBE_IDLE_SECONDS = 1.0


class _Reachability:
    """The last probe of the database server's port, shared by the process's threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._checked_at = float("-inf")
        self._error: str | None = None

    def error(self, *, host: str, port: int) -> str | None:
        """Why the server cannot be reached (None when it accepts connections), probing at most
        once per PROBE_EVERY_SECONDS."""
        with self._lock:
            if time.monotonic() - self._checked_at >= PROBE_EVERY_SECONDS:
                self._error = _probe(host=host, port=port, timeout=settings.DATABASE_REACHABILITY_TIMEOUT)
                self._checked_at = time.monotonic()
            return self._error


reachability = _Reachability()


def _probe(*, host: str, port: int, timeout: float) -> str | None:
    try:
        if host.startswith("/"):  # a Unix socket directory, as libpq reads it
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                probe.settimeout(timeout)
                probe.connect(f"{host}/.s.PGSQL.{port}")
        else:
            socket.create_connection((host, port), timeout=timeout).close()
    except OSError as error:
        return f"the database server does not accept connections ({type(error).__name__})"
    return None


class DatabaseWrapper(postgresql.DatabaseWrapper):
    def get_new_connection(self, conn_params):
        host, port = conn_params.get("host") or "", conn_params.get("port") or 5432
        # Only for the pool (persistent connections fail within connect_timeout anyway) and one
        # plain host (libpq's host lists and service files decide for themselves).
        if self.pool is not None and host and "," not in host:
            error = reachability.error(host=host, port=int(port))
            if error is not None:
                raise self.Database.OperationalError(error)
        if self.pool is None:
            return super().get_new_connection(conn_params)
        return self._pooled_connection_checked(conn_params)

    def _pooled_connection_checked(self, conn_params):
        # Every pooled connection may be stale after a restart: at most the pool's size plus one tries.
        for _ in range(self.pool.max_size + 1):
            conn = super().get_new_connection(conn_params)
            if pooled_connection_idle_seconds(conn) <= PROBE_IDLE_SECONDS:
                return conn
            try:
                ConnectionPool.check_connection(conn)
            except self.Database.Error:
                conn.close()
                self.pool.putconn(conn)  # closed: the pool discards it
                continue
            return conn
        raise self.Database.OperationalError("no healthy connection in the pool")
