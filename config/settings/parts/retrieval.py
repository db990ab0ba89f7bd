"""Retrieval: the three legs, weighted fusion, caches (docs/retrieval.md)."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from ..environment import env

# --- Retrieval ----------------------------------------------------------------------------------
RETRIEVAL_LEGS = {
    "dense": env.str("RETRIEVAL_DENSE_LEG", default="apps.retrieval.legs.dense.PgvectorDenseLeg"),
    "keyword": env.str("RETRIEVAL_KEYWORD_LEG", default="apps.retrieval.legs.keyword.PostgresBM25Leg"),
    "graph": env.str("RETRIEVAL_GRAPH_LEG", default="apps.retrieval.legs.graph.Neo4jGraphLeg"),
}
RETRIEVAL_DEFAULT_LEGS = ["dense", "keyword", "graph"]
# Weighted RRF. "fixed": the weights and k below for every question (chosen on SciFact and MuSiQue;
# 0.06 nDCG below the keyword leg alone on a TV manual). "calibrated": each question's weights from
# the legs' own confidence, fitted across datasets (apps/retrieval/calibration.py); not the default
# yet: the evidence check, fitted on the fixed fusion's passages, refuses fewer unanswerable
# questions on it (docs/retrieval.md).
RETRIEVAL_FUSION = env.str("RETRIEVAL_FUSION", default="fixed")
if RETRIEVAL_FUSION not in ("calibrated", "fixed"):
    raise ImproperlyConfigured(f"RETRIEVAL_FUSION must be 'calibrated' or 'fixed', not {RETRIEVAL_FUSION!r}.")
RETRIEVAL_LEG_WEIGHTS = {"dense": 1.0, "keyword": 0.5, "graph": 0.5}
RETRIEVAL_RRF_K = env.float("RETRIEVAL_RRF_K", default=5.0)
# A question of several hops takes a second round through the first round's best passage
# (apps/retrieval/bridge.py, docs/retrieval.md "The bridge hop").
RETRIEVAL_BRIDGE_HOP = env.bool("RETRIEVAL_BRIDGE_HOP", default=True)
RETRIEVAL_CANDIDATES_PER_LEG = env.int("RETRIEVAL_CANDIDATES_PER_LEG", default=50)
RETRIEVAL_LEG_TIMEOUT_SECONDS = env.float("RETRIEVAL_LEG_TIMEOUT_SECONDS", default=2.0)
RETRIEVAL_THREADS = env.int("RETRIEVAL_THREADS", default=12)
RETRIEVAL_HNSW_EF_SEARCH = env.int("RETRIEVAL_HNSW_EF_SEARCH", default=100)
# How many index tuples one iterative HNSW scan may visit before it gives up (pgvector's default);
# a scan that returns fewer than k rows is repeated exactly (apps/retrieval/legs/dense.py).
RETRIEVAL_HNSW_MAX_SCAN_TUPLES = env.int("RETRIEVAL_HNSW_MAX_SCAN_TUPLES", default=20_000)
RETRIEVAL_RERANKER = env.str("RETRIEVAL_RERANKER", default="")  # dotted path: (query, candidates) -> candidates
RETRIEVAL_CACHE_TTL_SECONDS = env.int("RETRIEVAL_CACHE_TTL_SECONDS", default=3600)
RESPONSE_CACHE_TTL_SECONDS = env.int("RESPONSE_CACHE_TTL_SECONDS", default=1800)
# A result or answer missing a retrieval leg (timed out under load, store down) or written by a
# fallback provider is kept this briefly: long enough to spare a busy system the same work again,
# short enough that the full answer returns soon after the pressure or the outage ends.
DEGRADED_CACHE_TTL_SECONDS = env.int("DEGRADED_CACHE_TTL_SECONDS", default=60)
GRAPH_LEG_FANOUT = env.int("GRAPH_LEG_FANOUT", default=25)  # neighbours walked per linked entity
# Neighbours walked per question, shared among its linked entities (each still walks at most FANOUT).
GRAPH_LEG_NEIGHBOUR_BUDGET = env.int("GRAPH_LEG_NEIGHBOUR_BUDGET", default=100)
GRAPH_LEG_MAX_NEIGHBOUR_DEGREE = env.int("GRAPH_LEG_MAX_NEIGHBOUR_DEGREE", default=50)  # skip hub entities
GRAPH_LEG_SECOND_HOP_DISCOUNT = env.float("GRAPH_LEG_SECOND_HOP_DISCOUNT", default=0.5)
GRAPH_LEG_PARTIAL_LINK_WEIGHT = env.float("GRAPH_LEG_PARTIAL_LINK_WEIGHT", default=0.5)  # partial vs exact link
GRAPH_LEG_MAX_SEEDS = env.int("GRAPH_LEG_MAX_SEEDS", default=12)  # linked entities walked per question
GRAPH_LEG_MAX_SEED_DEGREE = env.int("GRAPH_LEG_MAX_SEED_DEGREE", default=500)  # skip linked hub entities
GRAPH_LEG_MAX_SEED_RELATIONS = env.int("GRAPH_LEG_MAX_SEED_RELATIONS", default=1000)  # no second hop from hubs
GRAPH_LEG_PARTIAL_LINKS_PER_ENTITY = env.int("GRAPH_LEG_PARTIAL_LINKS_PER_ENTITY", default=5)
BM25_K1 = env.float("BM25_K1", default=1.2)
BM25_B = env.float("BM25_B", default=0.75)
# Postings each process keeps in memory for the keyword leg (14 bytes each; apps/retrieval/legs/keyword.py).
BM25_POSTINGS_CACHE_MAX_POSTINGS = env.int("BM25_POSTINGS_CACHE_MAX_POSTINGS", default=2_000_000)
