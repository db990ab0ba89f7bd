"""Keyword leg: Okapi BM25 computed inside PostgreSQL from the postings table.

Why not an in-memory index (rank-bm25, bm25s)? Postings are written in the same transaction as
the chunks, so every web and worker process sees a new or deleted document the moment it commits,
nothing lives in private process memory, and the ACL filter applies before ranking, inside the
same query. The covering index on `term` makes the scan index-only; measured figures are in
docs/retrieval.md.
"""

from __future__ import annotations

from django.conf import settings
from django.db import connection, transaction

from apps.documents.index_state import index_snapshot

from .base import Candidate, LegQuery
from .filters import document_filter_sql

BM25_SQL = """
WITH postings AS (
    SELECT term, chunk_id, term_frequency AS tf, chunk_length AS dl
    FROM documents_keywordposting
    WHERE term = ANY(%(terms)s)
),
document_frequency AS (
    SELECT term, count(*)::float8 AS df FROM postings GROUP BY term
),
scored AS (
    SELECT p.chunk_id,
           sum(
               ln(1 + (%(n)s - f.df + 0.5) / (f.df + 0.5))
               * p.tf * (%(k1)s + 1)
               / (p.tf + %(k1)s * (1 - %(b)s + %(b)s * p.dl / %(avgdl)s))
           ) AS score
    FROM postings p JOIN document_frequency f USING (term)
    GROUP BY p.chunk_id
)
SELECT s.chunk_id, s.score
FROM scored s JOIN documents_chunk c ON c.id = s.chunk_id
WHERE c.acl && %(principals)s::varchar[]{extra_sql}
ORDER BY s.score DESC, s.chunk_id
LIMIT %(k)s
"""


class PostgresBM25Leg:
    name = "keyword"

    def search(self, query: LegQuery) -> list[Candidate]:
        terms = sorted(set(query.terms))
        if not terms or not query.principals:
            return []
        state = query.corpus or index_snapshot()
        if state.chunk_count <= 0:
            return []
        extra_sql, extra_params = document_filter_sql(query.filters, chunk_alias="c")
        params = {
            "terms": terms,
            "n": float(state.chunk_count),
            "avgdl": max(state.term_total / state.chunk_count, 1.0),
            "k1": settings.BM25_K1,
            "b": settings.BM25_B,
            "principals": list(query.principals),
            "k": query.k,
            **extra_params,
        }
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL statement_timeout = {int(settings.RETRIEVAL_LEG_TIMEOUT_SECONDS * 1000)}")
            cursor.execute(BM25_SQL.format(extra_sql=extra_sql), params)
            rows = cursor.fetchall()
        return [Candidate(chunk_id=row[0], score=float(row[1])) for row in rows]
