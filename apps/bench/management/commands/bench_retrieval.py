"""Retrieval latency at scale: raw pgvector top-10 (baseline), each leg, and full hybrid retrieval.

    manage.py bench_retrieval --chunks 100000
    manage.py bench_retrieval --chunks 10000

Builds (or reuses) a synthetic tenant `bench_<chunks>` and prints one JSON document.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar
from unittest import mock

from django.conf import settings
from django.core.cache import cache
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from tqdm import tqdm

from apps.bench.retrieval.metrics import percentile
from apps.bench.retrieval.synthetic import build_synthetic_corpus, build_synthetic_graph, query_pool, sentence_pool
from apps.documents.models import Chunk
from apps.integrations.embeddings.factory import embedder
from apps.integrations.graph.knowledge import graph_tenant_clear
from apps.retrieval.bridge import takes_bridge_hop
from apps.retrieval.legs.base import LegQuery
from apps.retrieval.legs.dense import PgvectorDenseLeg, vector_literal
from apps.retrieval.legs.graph import Neo4jGraphLeg
from apps.retrieval.legs.keyword import PostgresBM25Leg, postings_cache
from apps.retrieval.search import retrieve_for_principals
from apps.tenants.context import current_tenant_schema, in_tenant
from apps.tenants.encryption import fields as encryption_fields
from apps.tenants.encryption.cipher import TEXT_MARK
from apps.tenants.models import Tenant
from apps.tenants.services import portal_tenant_provision
from apps.text.analyzer import analyze
from apps.text.entities import extract_query_entities

T = TypeVar("T")
# What the output says about its vectors (the issue allows synthesised ones at scale if it says so).
SYNTHETIC_EMBEDDINGS = "synthesised: each chunk's vector is the normalised mean of its sentences' real embeddings"
PRINCIPALS = ("group:1", "tenant:all", "user:1")
EVAL = Path(settings.BASE_DIR).parent / "shared" / "eval"


def stats(samples: list[float]) -> dict[str, float | None]:
    if not samples:
        return {"p50_ms": None, "p95_ms": None}
    return {"p50_ms": round(percentile(samples, 0.5), 2), "p95_ms": round(percentile(samples, 0.95), 2)}


def split_stats(queries: list[str], samples: list[float], *, several_hops: bool) -> dict:
    """The figures of the questions of one hop, or of several (which take the bridge hop's second round)."""
    chosen = [ms for query, ms in zip(queries, samples, strict=True) if takes_bridge_hop(query) == several_hops]
    return {**stats(chosen), "queries": len(chosen)}


def measure(items: list[T], call: Callable[[T], object]) -> list[float]:
    samples = []
    for item in items:
        started = time.perf_counter()
        call(item)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


class Command(BaseCommand):
    help = "Measure retrieval latency on a synthetic tenant of N chunks; prints JSON with p50/p95."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--chunks", type=int, required=True)
        parser.add_argument("--queries", type=int, default=200)
        parser.add_argument(
            "--warm-up", type=int, default=100, help="other queries run once, untimed, before measuring (0: none)"
        )
        parser.add_argument("--rebuild", action="store_true", help="rebuild the synthetic tenant even if it exists")
        parser.add_argument("--eval-dir", default=str(EVAL), help="where the BEIR corpora for realistic text live")

    def handle(self, *args, **options) -> None:
        chunks = options["chunks"]
        if chunks < 100:
            raise CommandError("--chunks must be at least 100")
        # One benchmark tenant per shard: a schema name is placed on one shard only (docs/operations.md, "Shards").
        shard = settings.PORTAL_SHARD
        schema = f"bench_{chunks}" if shard == "main" else f"bench_{chunks}_{shard}"
        eval_dir = Path(options["eval_dir"])
        corpora = sorted(eval_dir.glob("*/corpus.jsonl"))
        if not corpora:
            raise CommandError(f"no BEIR corpora under {eval_dir}")
        self._ensure_tenant(schema)
        with in_tenant(schema):
            if options["rebuild"] or Chunk.objects.count() != chunks:
                self._build(chunks, corpora)
            pool = query_pool(sorted(eval_dir.glob("*/queries.jsonl")), limit=options["queries"] + options["warm_up"])
            queries, warm_up = pool[: options["queries"]], pool[options["queries"] :]
            # Steady state, not a cold start: caches, buffers and the JIT warmed by queries not measured.
            if warm_up:
                self._measure(schema, chunks, warm_up)
            report = {
                **self._measure(schema, chunks, queries),
                "warm_up_queries": len(warm_up),
                "shard": shard,
                "embeddings": SYNTHETIC_EMBEDDINGS,
                "keyword_postings_cache": {
                    "max_postings": settings.BM25_POSTINGS_CACHE_MAX_POSTINGS,
                    "held_postings": postings_cache().size,
                },
            }
        self.stdout.write(json.dumps(report, indent=2))

    @staticmethod
    def _ensure_tenant(schema: str) -> None:
        if not Tenant.objects.filter(schema_name=schema).exists():
            portal_tenant_provision(
                schema_name=schema, domain=f"{schema.replace('_', '-')}.localhost", admin_email="bench@example.com"
            )

    def _build(self, chunks: int, corpora: list[Path]) -> None:
        sentences = sentence_pool(corpora, limit=20_000)
        with tqdm(total=chunks, unit="chunk", desc="build", disable=None, file=sys.stderr) as bar:
            build_synthetic_corpus(sentences=sentences, chunk_count=chunks, on_progress=bar.update)
        graph_tenant_clear(tenant=current_tenant_schema())
        with tqdm(total=chunks, unit="chunk", desc="graph", disable=None, file=sys.stderr) as bar:
            build_synthetic_graph(sentences=sentences, chunk_count=chunks, on_progress=bar.update)

    def _measure(self, schema: str, chunks: int, queries: list[str]) -> dict:
        vectors = {query: embedder().embed_query(query) for query in queries}
        leg_queries = [
            LegQuery(
                tenant=schema,
                principals=PRINCIPALS,
                text=query,
                k=settings.RETRIEVAL_CANDIDATES_PER_LEG,
                embedding=vectors[query],
                terms=tuple(analyze(query)),
                entity_keys=tuple(entity.key for entity in extract_query_entities(text=query)),
            )
            for query in queries
        ]
        raw = measure(queries, lambda query: self._raw_pgvector(vectors[query]))
        legs = {
            leg.name: measure(leg_queries, leg.search)
            for leg in (PgvectorDenseLeg(), PostgresBM25Leg(), Neo4jGraphLeg())
        }
        cache.clear()  # the hybrid figure includes embedding the question, as a real first query does
        hybrid = measure(
            queries, lambda query: retrieve_for_principals(principals=PRINCIPALS, query=query, k=10, use_cache=False)
        )
        raw_p95 = percentile(raw, 0.95)
        sealing = self._sealing_cost(queries)
        return {
            "chunks": chunks,
            "queries": len(queries),
            "raw_pgvector_top10": stats(raw),
            **{f"leg_{name}": stats(samples) for name, samples in legs.items()},
            "hybrid": stats(hybrid),
            # A question of several hops takes the bridge hop, a second round (docs/retrieval.md).
            "hybrid_one_hop": split_stats(queries, hybrid, several_hops=False),
            "hybrid_several_hops": split_stats(queries, hybrid, several_hops=True),
            "hybrid_p95_over_raw_pgvector_p95": round(percentile(hybrid, 0.95) / raw_p95, 2) if raw_p95 else None,
            **sealing,
        }

    @staticmethod
    def _sealing_cost(queries: list[str]) -> dict:
        """Hybrid retrieval with the sealed passages opened as usual, against the same run with opening
        skipped (the ciphertext passed through), alternating query by query.

        Sealed and clear runs of the same tenant cannot be compared directly: minutes apart, the graph
        leg alone moves by more than decryption costs. Interleaving in one process cancels that drift.
        """

        def not_opened(stored: str, **_: object) -> str:
            return stored

        def run(query: str, skip_opening: bool) -> float:
            started = time.perf_counter()
            if skip_opening:
                with mock.patch.object(encryption_fields, "text_open", not_opened):
                    retrieve_for_principals(principals=PRINCIPALS, query=query, k=10, use_cache=False)
            else:
                retrieve_for_principals(principals=PRINCIPALS, query=query, k=10, use_cache=False)
            return (time.perf_counter() - started) * 1000

        opened: list[float] = []
        skipped: list[float] = []
        for position, query in enumerate(queries):
            first_skips = position % 2 == 1  # ABAB then BABA: neither side always runs second
            for skip_opening in (first_skips, not first_skips):
                (skipped if skip_opening else opened).append(run(query, skip_opening))
        overhead = percentile(opened, 0.95) / percentile(skipped, 0.95) - 1 if skipped else 0.0
        return {
            "hybrid_passages_opened": stats(opened),
            "hybrid_passages_not_opened": stats(skipped),
            "sealing_overhead_p95_percent": round(overhead * 100, 1),
            "passages_sealed_percent": Command._sealed_share(),
        }

    @staticmethod
    def _sealed_share() -> float:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT round(100.0 * count(*) FILTER (WHERE starts_with(text, %s)) / greatest(count(*), 1), 1)"
                " FROM documents_chunk",
                [TEXT_MARK],
            )
            return float(cursor.fetchone()[0])

    @staticmethod
    def _raw_pgvector(vector) -> list:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id FROM documents_chunk ORDER BY embedding <=> %s::vector LIMIT 10", [vector_literal(vector)]
            )
            return cursor.fetchall()
