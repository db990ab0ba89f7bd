"""Keyword leg: Okapi BM25 computed inside PostgreSQL from the postings table.

Why not an in-memory index (rank-bm25, bm25s)? Postings are written in the same transaction as
the chunks, so every web and worker process sees a new or deleted document the moment it commits,
nothing lives in private process memory, and the ACL filter applies before ranking, inside the
same query.

How: the query's document frequencies are counted first (index-only), so each term's idf is a
constant of the scoring query; every posting of the query's terms is summed per chunk (index-only
scan of (term, chunk_id) INCLUDE (tf, length), one hash aggregate); the best chunks are kept in
score order and only then is the ACL (and any filter) checked, walking down that order until k
chunks pass. That is the exact top k among the chunks the user may view, like filtering first,
but with about k ACL checks instead of one per matching chunk (checking them all cost 80% of the
time at 100k chunks). If fewer than k of the best `k * SCAN_FACTOR` may be viewed, the query runs
again over every matching chunk. Measured figures are in docs/retrieval.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction

from apps.documents.index_state import index_snapshot

from .base import Candidate, LegQuery
from .filters import document_filter_sql

DOCUMENT_FREQUENCY_SQL = """
SELECT term, count(*) FROM documents_keywordposting WHERE term = ANY(%(terms)s) GROUP BY term
"""

# Chunks kept in score order for the ACL walk: enough for k viewable ones unless the user may
# see under a quarter of the best matches; then the query runs again without the cut.
SCAN_FACTOR = 4

DOCUMENT_FREQUENCY_SQL = """
SELECT term, count(*) FROM documents_keywordposting WHERE term = ANY(%(terms)s) GROUP BY term
"""

# {idf} is a CASE over the query's terms (placeholders only), not a join: with a join the planner
# misjudged the row count and sorted 50k postings instead of hashing them (3x slower).
BM25_SQL = """
WITH scored AS MATERIALIZED (
    SELECT p.chunk_id,
           sum({idf} * p.term_frequency * (%(k1)s::float8 + 1) / (p.term_frequency
               + %(k1)s::float8 * (1 - %(b)s::float8 + %(b)s::float8 * p.chunk_length / %(avgdl)s::float8))
           ) AS score
    FROM documents_keywordposting p
    WHERE p.term = ANY(%(terms)s::varchar[])
    GROUP BY p.chunk_id
    ORDER BY score DESC, p.chunk_id
    LIMIT %(scan)s
)
SELECT s.chunk_id, s.score FROM scored s
WHERE EXISTS (
    SELECT 1 FROM documents_chunk c WHERE c.id = s.chunk_id AND c.acl && %(principals)s::varchar[]{extra_sql}
)
ORDER BY s.score DESC, s.chunk_id
LIMIT %(k)s
"""


@dataclass(frozen=True)
class QueryTerm:
    term: str
    document_frequency: int
    idf: float


class PostgresBM25Leg:
    name = "keyword"

    def search(self, query: LegQuery) -> list[Candidate]:
        terms = sorted(set(query.terms))
        if not terms or not query.principals:
            return []
        state = query.corpus or index_snapshot()
        if state.chunk_count <= 0:
            return []
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL statement_timeout = {int(settings.RETRIEVAL_LEG_TIMEOUT_SECONDS * 1000)}")
            query_terms = self._weighted_terms(cursor, terms, chunk_count=state.chunk_count)
            if not query_terms:
                return []
            rows = self._top_chunks(cursor, query, query_terms, avgdl=max(state.term_total / state.chunk_count, 1.0))
        return [Candidate(chunk_id=row[0], score=float(row[1])) for row in rows]

    @staticmethod
    def _weighted_terms(cursor, terms: list[str], *, chunk_count: int) -> list[QueryTerm]:
        """The query's terms found in the tenant's postings, with their idf."""
        cursor.execute(DOCUMENT_FREQUENCY_SQL, {"terms": terms})
        return [
            QueryTerm(term=term, document_frequency=df, idf=math.log(1 + (chunk_count - df + 0.5) / (df + 0.5)))
            for term, df in cursor.fetchall()
        ]

    @staticmethod
    def _top_chunks(cursor, query: LegQuery, query_terms: list[QueryTerm], *, avgdl: float) -> list[tuple]:
        extra_sql, extra_params = document_filter_sql(query.filters, chunk_alias="c")
        idf = "CASE p.term " + " ".join(f"WHEN %(term_{n})s THEN %(idf_{n})s::float8" for n in range(len(query_terms)))
        sql = BM25_SQL.format(idf=idf + " END", extra_sql=extra_sql)
        params = {
            "terms": [item.term for item in query_terms],
            **{f"term_{n}": item.term for n, item in enumerate(query_terms)},
            **{f"idf_{n}": item.idf for n, item in enumerate(query_terms)},
            "k1": settings.BM25_K1,
            "b": settings.BM25_B,
            "avgdl": avgdl,
            "principals": list(query.principals),
            "k": query.k,
            "scan": query.k * SCAN_FACTOR,
            **extra_params,
        }
        cursor.execute(sql, params)
        rows = cursor.fetchall()
        matching_at_most = sum(item.document_frequency for item in query_terms)
        if len(rows) < query.k and matching_at_most > params["scan"]:
            cursor.execute(sql, {**params, "scan": None})  # LIMIT NULL: every matching chunk
            rows = cursor.fetchall()
        return rows
