"""The tenant's index version and BM25 corpus statistics (one row per tenant schema).

Every change that can alter a search result (ingest, delete, permission change) bumps the version
inside its own transaction; cache keys carry the version, so a revoked permission is never served
from a cache, and the change becomes visible exactly when it commits.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection
from django.db.models import F

from .models import IndexState


def index_state_row() -> IndexState:
    state, _ = IndexState.objects.get_or_create(pk=1)
    return state


def index_version_bump(*, chunk_delta: int = 0, term_delta: int = 0) -> None:
    """Call inside the transaction that makes the change."""
    changes = {
        "version": F("version") + 1,
        "chunk_count": F("chunk_count") + chunk_delta,
        "term_total": F("term_total") + term_delta,
    }
    # The row exists after the first change: one UPDATE, and the get_or_create only the first time.
    if not IndexState.objects.filter(pk=1).update(**changes):
        index_state_row()
        IndexState.objects.filter(pk=1).update(**changes)


@dataclass(frozen=True)
class IndexSnapshot:
    version: int = 0
    chunk_count: int = 0
    term_total: int = 0


# Read for every question, cached or not: plain SQL, because building the ORM query cost more CPU
# than PostgreSQL spent answering it (about a twentieth of a cached answer's time).
_SNAPSHOT_SQL = "SELECT version, chunk_count, term_total FROM {table} WHERE id = 1"


def index_snapshot() -> IndexSnapshot:
    """Version and corpus statistics in one read-only query (retrieval reads them once per question)."""
    with connection.cursor() as cursor:
        cursor.execute(_SNAPSHOT_SQL.format(table=connection.ops.quote_name(IndexState._meta.db_table)))
        row = cursor.fetchone()
    return IndexSnapshot(version=row[0], chunk_count=row[1], term_total=row[2]) if row else IndexSnapshot()


def current_index_version() -> int:
    return index_snapshot().version
