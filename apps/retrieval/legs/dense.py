"""Dense leg: pgvector HNSW cosine search with the ACL filter inside the SQL.

pgvector 0.8's iterative index scan keeps walking the HNSW graph until k rows pass the filter, so
a user who may see 1% of the chunks still gets k results instead of the few that happened to be in
the first candidate list.
"""

from __future__ import annotations

import numpy as np
from django.conf import settings
from django.db import connection, transaction

from .base import Candidate, LegQuery
from .filters import document_filter_sql


def vector_literal(vector: np.ndarray) -> str:
    """pgvector's text form of a vector, for a `%s::vector` parameter."""
    return "[" + ",".join(f"{value:.7f}" for value in vector.tolist()) + "]"


def _nearest_sql(extra_sql: str, *, order_by: str) -> str:
    return f"""
        SELECT c.id, c.embedding <=> %(vector)s::vector AS distance
        FROM documents_chunk c
        WHERE c.acl && %(principals)s::varchar[]{extra_sql}
        ORDER BY {order_by}
        LIMIT %(k)s
    """  # noqa: S608 - only our own fixed clauses are interpolated; values are parameters


class PgvectorDenseLeg:
    name = "dense"

    def search(self, query: LegQuery) -> list[Candidate]:
        if query.embedding is None or not query.principals:
            return []
        extra_sql, extra_params = document_filter_sql(query.filters, chunk_alias="c")
        nearest = "c.embedding <=> %(vector)s::vector"
        sql = _nearest_sql(extra_sql, order_by=nearest)
        params = {
            "vector": vector_literal(query.embedding),
            "principals": list(query.principals),
            "k": query.k,
            **extra_params,
        }
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL hnsw.ef_search = %s", [max(settings.RETRIEVAL_HNSW_EF_SEARCH, query.k)])
            cursor.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
            cursor.execute("SET LOCAL hnsw.max_scan_tuples = %s", [settings.RETRIEVAL_HNSW_MAX_SCAN_TUPLES])
            cursor.execute(f"SET LOCAL statement_timeout = {int(settings.RETRIEVAL_LEG_TIMEOUT_SECONDS * 1000)}")
            cursor.execute(sql, params)
            rows = cursor.fetchall()
            if len(rows) < query.k:
                # The index walk gave up (hnsw.max_scan_tuples) before k rows passed the filter, or
                # fewer than k chunks are visible at all: an exact scan then finds every row the
                # index missed (the filter's own GIN index keeps it cheap for a narrow ACL).
                # Ordered by an expression no index can serve: always an exact scan.
                cursor.execute(_nearest_sql(extra_sql, order_by=f"({nearest}) + 0"), params)
                rows = cursor.fetchall()
        # relaxed_order may return rows slightly out of order: sort by the real distance.
        return [Candidate(chunk_id=row[0], score=1.0 - float(row[1])) for row in sorted(rows, key=lambda row: row[1])]
