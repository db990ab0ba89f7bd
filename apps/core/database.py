"""Facts about the database connection that child processes need."""

from __future__ import annotations

from urllib.parse import quote

from django.db import connection


def current_database_url() -> str:
    """The URL of the database this process is connected to, for a worker it starts.

    Tests run on a test database whose name differs from DATABASE_URL's, so a child process must be
    told the real one.
    """
    database = connection.settings_dict
    user, password = quote(database["USER"] or "", safe=""), quote(database["PASSWORD"] or "", safe="")
    return f"postgres://{user}:{password}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
