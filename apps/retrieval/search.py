"""The search orchestrator: `retrieve()`, the one entry point other apps call to find passages.

It looks the question up in the retrieval cache; otherwise it starts the keyword and graph legs on
their threads (runner.py), embeds the question meanwhile and then starts the dense leg. The legs'
candidates are fused by weighted reciprocal rank fusion, optionally reranked, and every surviving
chunk is checked once more against PostgreSQL permissions (the source of truth) before it is
returned and cached.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np
from django.conf import settings
from django.utils.module_loading import import_string

from apps.accounts.models import User
from apps.core.metrics import retrieval_fused_results, retrieval_requests_total
from apps.core.observability.tracing import span_annotate, traced
from apps.documents.acl import principals_for_user
from apps.documents.index_state import IndexSnapshot, index_snapshot
from apps.documents.selectors import chunks_visible_to
from apps.integrations.embeddings.factory import embedder
from apps.tenants.context import current_tenant_schema
from apps.text.analyzer import analyze
from apps.text.entities import extract_query_entities

from .bridge import BRIDGE_LEGS, bridge_query, bridged
from .cache import cache_get, cache_key, cache_set, cache_ttl, legs_degraded
from .calibration import fusion_parameters, fusion_version
from .fusion import FusedCandidate, reciprocal_rank_fusion
from .legs.base import LegQuery
from .runner import LegOutcome, collect_legs, start_legs

logger = logging.getLogger(__name__)
ALL_LEGS = ("dense", "keyword", "graph")


@dataclass
class RetrievedChunk:
    chunk_id: int
    document_id: int
    document_title: str
    document_source: str
    ordinal: int
    heading_path: list[str]
    text: str
    fused_score: float
    fused_rank: int
    leg_scores: dict[str, float] = field(default_factory=dict)
    leg_ranks: dict[str, int] = field(default_factory=dict)


@dataclass
class RetrievalResult:
    query: str
    chunks: list[RetrievedChunk]
    legs: dict[str, str]  # leg -> ok | timeout | error | skipped
    timings_ms: dict[str, float]
    index_version: int
    cached: bool = False

    @property
    def legs_ran(self) -> list[str]:
        return [leg for leg, status in self.legs.items() if status == "ok"]


def retrieve(
    *, user: User, query: str, k: int = 10, legs: Sequence[str] | None = None, filters: dict | None = None
) -> RetrievalResult:
    return retrieve_for_principals(principals=principals_for_user(user), query=query, k=k, legs=legs, filters=filters)


@traced("retrieval.retrieve")
def retrieve_for_principals(
    *,
    principals: Sequence[str],
    query: str,
    k: int = 10,
    legs: Sequence[str] | None = None,
    filters: dict | None = None,
    use_cache: bool = True,
) -> RetrievalResult:
    tenant = current_tenant_schema()
    chosen = tuple(leg for leg in (legs or settings.RETRIEVAL_DEFAULT_LEGS) if leg in settings.RETRIEVAL_LEGS)
    principal_set = tuple(sorted(set(principals)))
    corpus = index_snapshot()
    key = cache_key(
        "retrieval",
        tenant=tenant,
        principals=principal_set,
        version=corpus.version,
        query=query.strip(),
        k=k,
        legs=chosen,
        filters=filters or {},
        weights=settings.RETRIEVAL_LEG_WEIGHTS,
        rrf=settings.RETRIEVAL_RRF_K,
        fusion=fusion_version(),
        bridge=settings.RETRIEVAL_BRIDGE_HOP,
    )
    if use_cache:
        hit = cache_get("retrieval", key)
        if hit is not None:
            retrieval_requests_total.labels(cached="true").inc()
            span_annotate(**{"retrieval.cached": True})
            return _from_cache(hit)
    scope = SearchScope(tenant=tenant, principals=principal_set, k=k, legs=chosen, filters=filters or {}, corpus=corpus)
    result = _retrieve_uncached(scope, query)
    if use_cache and principal_set:
        ttl = cache_ttl(settings.RETRIEVAL_CACHE_TTL_SECONDS, degraded=legs_degraded(result.legs))
        cache_set("retrieval", key, _to_cache(result), ttl=ttl)
    retrieval_requests_total.labels(cached="false").inc()
    retrieval_fused_results.observe(len(result.chunks))
    span_annotate(
        **{"retrieval.cached": False, "retrieval.results": len(result.chunks)},
        **{f"retrieval.leg_status.{leg}": status for leg, status in result.legs.items()},
    )
    return result


@dataclass(frozen=True)
class SearchScope:
    """Everything about a search but the question's text: where, for whom, how many, which legs."""

    tenant: str
    principals: tuple[str, ...]
    k: int
    legs: tuple[str, ...]
    filters: dict
    corpus: IndexSnapshot


def _retrieve_uncached(
    scope: SearchScope, query: str, *, bridge_hop: bool = True, walked_keys: tuple[str, ...] = ()
) -> RetrievalResult:
    timings: dict[str, float] = {}
    started = time.perf_counter()
    if not scope.principals or not query.strip():
        return RetrievalResult(
            query=query,
            chunks=[],
            legs={leg: "skipped" for leg in scope.legs},
            timings_ms={},
            index_version=scope.corpus.version,
        )
    run = legs_run(scope, query, walked_keys=walked_keys)
    outcomes = run.outcomes
    timings |= run.timings
    candidates = {name: outcome.candidates for name, outcome in outcomes.items()}
    weights, rrf_k = fusion_parameters(
        candidates=candidates, question_vector=run.question_vector, tenant=scope.tenant, corpus=scope.corpus
    )
    fused = reciprocal_rank_fusion(candidates, weights=weights, k=rrf_k)
    fused = _rerank(query, fused)
    chunks = _permitted(fused, principals=scope.principals, k=scope.k)
    bridge = bridge_query(query, chunks[0].text) if bridge_hop and chunks and settings.RETRIEVAL_BRIDGE_HOP else None
    bridge_legs = tuple(leg for leg in scope.legs if leg in BRIDGE_LEGS)
    if bridge and bridge_legs:
        # The question's own entities were walked in this round: the second walks from the new names.
        second = _retrieve_uncached(
            replace(scope, legs=bridge_legs), bridge, bridge_hop=False, walked_keys=run.entity_keys
        )
        chunks = bridged(chunks, second.chunks, k=scope.k, rrf_k=settings.RETRIEVAL_RRF_K)
        timings["bridge"] = second.timings_ms.get("total", 0.0)
    timings["total"] = round((time.perf_counter() - started) * 1000, 2)
    statuses = {name: outcomes[name].status if name in outcomes else "skipped" for name in scope.legs}
    return RetrievalResult(
        query=query, chunks=chunks, legs=statuses, timings_ms=timings, index_version=scope.corpus.version
    )


@dataclass
class LegsRun:
    outcomes: dict[str, LegOutcome]
    question_vector: np.ndarray | None  # None when the dense leg did not run
    timings: dict[str, float]
    entity_keys: tuple[str, ...]  # the question's entities the graph leg linked from


def legs_run(scope: SearchScope, query: str, *, walked_keys: tuple[str, ...] = ()) -> LegsRun:
    """Every leg's own candidates for the question, before fusion (the fusion fit reads them too)."""
    timings: dict[str, float] = {}
    leg_query = replace(_leg_query(scope, query), walked_keys=walked_keys)
    outcomes, question_vector = _run_legs_around_embedding(leg_query, legs=scope.legs, timings=timings)
    for name, outcome in outcomes.items():
        timings[name] = outcome.elapsed_ms
    return LegsRun(
        outcomes=outcomes, question_vector=question_vector, timings=timings, entity_keys=leg_query.entity_keys
    )


def _leg_query(scope: SearchScope, query: str) -> LegQuery:
    """What every leg needs except the question's embedding, which the dense leg adds."""
    entity_keys: tuple[str, ...] = ()
    if "graph" in scope.legs:
        entity_keys = tuple(entity.key for entity in extract_query_entities(text=query))
    return LegQuery(
        tenant=scope.tenant,
        principals=scope.principals,
        text=query,
        k=max(scope.k, settings.RETRIEVAL_CANDIDATES_PER_LEG),
        terms=tuple(analyze(query)),
        entity_keys=entity_keys,
        filters=scope.filters,
        corpus=scope.corpus,
    )


def _run_legs_around_embedding(
    base: LegQuery, *, legs: tuple[str, ...], timings: dict
) -> tuple[dict[str, LegOutcome], np.ndarray | None]:
    """Start the legs that need no embedding, embed the question meanwhile, then start the dense leg.

    Embedding a question is the costliest step before any leg can start; overlapping it with the
    keyword and graph legs takes it off the critical path. All legs share one deadline.
    """
    deadline = time.monotonic() + settings.RETRIEVAL_LEG_TIMEOUT_SECONDS
    futures = start_legs({leg: base for leg in legs if leg != "dense"})
    embedding = None
    if "dense" in legs:
        started = time.perf_counter()
        try:
            embedding = embedder().embed_query(base.text)
        except Exception as error:  # noqa: BLE001 - a failed embedder degrades to the other legs
            logger.warning("question embedding failed; dense leg dropped: %s", type(error).__name__)
            outcomes = collect_legs(futures, deadline=deadline)
            outcomes["dense"] = LegOutcome(status="error", candidates=[], elapsed_ms=0.0, error=type(error).__name__)
            return outcomes, None
        finally:
            timings["embed"] = round((time.perf_counter() - started) * 1000, 2)
        futures |= start_legs({"dense": replace(base, embedding=embedding)})
    return collect_legs(futures, deadline=deadline), embedding


def _rerank(query: str, fused: list[FusedCandidate]) -> list[FusedCandidate]:
    if not settings.RETRIEVAL_RERANKER:
        return fused
    reranker = import_string(settings.RETRIEVAL_RERANKER)
    return reranker(query=query, candidates=fused)


def _permitted(fused: list[FusedCandidate], *, principals: tuple[str, ...], k: int) -> list[RetrievedChunk]:
    """The final ACL check in PostgreSQL; only chunks that pass it are returned, in fused order."""
    wanted = fused[: k * 3]
    rows = {
        chunk.pk: chunk
        for chunk in chunks_visible_to(principals=list(principals), chunk_ids=[c.chunk_id for c in wanted])
    }
    result: list[RetrievedChunk] = []
    for candidate in wanted:
        chunk = rows.get(candidate.chunk_id)
        if chunk is None:
            continue
        result.append(
            RetrievedChunk(
                chunk_id=chunk.pk,
                document_id=chunk.document_id,
                document_title=chunk.document.title,
                document_source=chunk.document.source,
                ordinal=chunk.ordinal,
                heading_path=list(chunk.heading_path),
                text=chunk.text,
                fused_score=round(candidate.score, 6),
                fused_rank=len(result) + 1,
                leg_scores=candidate.leg_scores,
                leg_ranks=candidate.leg_ranks,
            )
        )
        if len(result) == k:
            break
    return result


def _to_cache(result: RetrievalResult) -> dict:
    return {**asdict(result), "chunks": [asdict(chunk) for chunk in result.chunks]}


def _from_cache(data: dict) -> RetrievalResult:
    chunks = [RetrievedChunk(**chunk) for chunk in data["chunks"]]
    return RetrievalResult(
        query=data["query"],
        chunks=chunks,
        legs=data["legs"],
        timings_ms=data["timings_ms"],
        index_version=data["index_version"],
        cached=True,
    )
