"""Facts about the database connection that child processes need, and the web process's pool."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.db import connection, connections


def current_database_url() -> str:
    """The URL of the database this process is connected to, for a worker it starts.

    Tests run on a test database whose name differs from DATABASE_URL's, so a child process must be
    told the real one.
    """
    database = connection.settings_dict
    user, password = quote(database["USER"] or "", safe=""), quote(database["PASSWORD"] or "", safe="")
    return f"postgres://{user}:{password}@{database['HOST']}:{database['PORT']}/{database['NAME']}"


def connection_pool_enable() -> bool:
    """Take database connections from a pool in this process (the web server) from now on.

    Under ASGI every request runs on a new thread, and Django's persistent connections are per
    thread: each request would connect and authenticate anew and leave its connection open until
    garbage collection. Django's psycopg pool replaces persistent connections (CONN_MAX_AGE 0).
    Call before the server takes traffic; returns False when settings.DATABASE_POOL is off.
    """
    if not settings.DATABASE_POOL:
        return False
    connections.close_all()  # none may outlive the switch: it would be returned to a pool it never came from
    database = settings.DATABASES["default"]
    database["CONN_MAX_AGE"] = 0
    # The backend probes a checked-out connection only when it sat idle (apps/core/postgresql_backend).
    database["CONN_HEALTH_CHECKS"] = False
    database["OPTIONS"]["pool"] = {**settings.DATABASE_POOL_OPTIONS, "reset": pooled_connection_returned}
    return True


def pooled_connection_returned(conn: Any) -> None:
    """The pool's `reset` callback: when the connection came back, healthy."""
    conn.portal_returned_at = time.monotonic()


def pooled_connection_idle_seconds(conn: Any) -> float:
    """How long since the connection was handed back to the pool (infinite: never was)."""
    returned_at = getattr(conn, "portal_returned_at", None)
    return float("inf") if returned_at is None else time.monotonic() - returned_at
