"""Run a BEIR dataset's queries through the real retrieval path and score each configuration."""

from __future__ import annotations

import time
from collections.abc import Callable

from apps.documents.models import Chunk

from .beir import BeirDataset
from .metrics import mrr_at_k, ndcg_at_k, percentile, recall_at_k, unique_in_order

CONFIGURATIONS: dict[str, tuple[str, ...]] = {
    "dense": ("dense",),
    "keyword": ("keyword",),
    "graph": ("graph",),
    "hybrid": ("dense", "keyword", "graph"),
    "hybrid_without_dense": ("keyword", "graph"),
    "hybrid_without_keyword": ("dense", "graph"),
    "hybrid_without_graph": ("dense", "keyword"),
}
SINGLE_LEGS = ("dense", "keyword", "graph")
GAIN_METRICS = ("recall@5", "ndcg@10")


def leg_gains(configurations: dict[str, dict]) -> dict:
    """What each leg adds to the fusion (hybrid minus hybrid without it) and how the fusion compares
    with the best single leg, per metric; only for the configurations that were run."""
    hybrid = configurations.get("hybrid")
    if hybrid is None:
        return {}
    gains: dict = {}
    for leg in SINGLE_LEGS:
        without = configurations.get(f"hybrid_without_{leg}")
        if without is not None:
            gains[leg] = {metric: round(hybrid[metric] - without[metric], 4) for metric in GAIN_METRICS}
    singles = [configurations[leg] for leg in SINGLE_LEGS if leg in configurations]
    if singles:
        gains["hybrid_minus_best_single_leg"] = {
            metric: round(hybrid[metric] - max(single[metric] for single in singles), 4) for metric in GAIN_METRICS
        }
    return gains


def external_ids_by_chunk() -> dict[int, str]:
    return {pk: external_id or "" for pk, external_id in Chunk.objects.values_list("pk", "document__external_id")}


def evaluate(
    *,
    dataset: BeirDataset,
    principals: tuple[str, ...],
    k: int = 10,
    configurations: dict[str, tuple[str, ...]] | None = None,
    on_query: Callable[[], None] | None = None,
) -> dict:
    from apps.retrieval.search import retrieve_for_principals

    chunk_to_document = external_ids_by_chunk()
    queries = [query for query in dataset.queries if dataset.qrels.get(query.id)]
    report: dict = {"queries": len(queries), "k": k, "configurations": {}}
    for name, legs in (configurations or CONFIGURATIONS).items():
        scores: dict[str, list[float]] = {"recall@5": [], "recall@10": [], "ndcg@10": [], "mrr@10": []}
        latencies: list[float] = []
        leg_failures = 0
        for query in queries:
            started = time.perf_counter()
            # Deeper than k: several chunks may come from one document, and metrics count documents.
            result = retrieve_for_principals(
                principals=principals, query=query.text, k=k * 3, legs=legs, use_cache=False
            )
            latencies.append((time.perf_counter() - started) * 1000)
            leg_failures += any(status != "ok" for status in result.legs.values())
            ranked = unique_in_order([chunk_to_document.get(chunk.chunk_id, "") for chunk in result.chunks])
            relevant = dataset.qrels[query.id]
            scores["recall@5"].append(recall_at_k(ranked, relevant, 5))
            scores["recall@10"].append(recall_at_k(ranked, relevant, 10))
            scores["ndcg@10"].append(ndcg_at_k(ranked, relevant, 10))
            scores["mrr@10"].append(mrr_at_k(ranked, relevant, 10))
            if on_query:
                on_query()
        report["configurations"][name] = {
            **{metric: round(sum(values) / max(len(values), 1), 4) for metric, values in scores.items()},
            "p50_ms": round(percentile(latencies, 0.5), 2),
            "p95_ms": round(percentile(latencies, 0.95), 2),
            "queries_with_failed_legs": leg_failures,
            "queries": len(queries),
        }
    report["leg_gains"] = leg_gains(report["configurations"])
    return report
