"""Prometheus metrics shared across apps (defined once per process: prometheus_client refuses
duplicate names).

Every series also carries `environment` (settings.PORTAL_ENV): it is added once, when /metrics is
rendered (apps/core/observability/exposition.py), so no call site can forget it. A `tenant` label
holds the schema name only when settings.METRICS_TENANT_LABELS is on (bounded tenant counts);
otherwise it is always "all". The catalogue, with owners, is docs/observability.md.
"""

from __future__ import annotations

from django.conf import settings
from prometheus_client import Counter, Gauge, Histogram

# Latency buckets in seconds: retrieval legs are milliseconds, LLM calls are seconds.
FAST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0)
SLOW_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0)
JOB_BUCKETS = (0.5, 1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 900.0, 1800.0, 3600.0)


def tenant_label(schema_name: str | None) -> str:
    """The value of a `tenant` label: the schema when per-tenant series are enabled, else "all"."""
    if settings.METRICS_TENANT_LABELS and schema_name:
        return schema_name
    return "all"


# --- Caches (retrieval, response, embedding) --------------------------------------------------
cache_hits_total = Counter("cache_hits_total", "Cache hits by cache type", ["cache_type"])
cache_misses_total = Counter("cache_misses_total", "Cache misses by cache type", ["cache_type"])

# --- Retrieval (wired in apps/retrieval) ------------------------------------------------------
retrieval_leg_seconds = Histogram(
    "portal_retrieval_leg_seconds",
    "Time one retrieval leg took, by leg and outcome (ok|timeout|error)",
    ["leg", "status"],
    buckets=FAST_BUCKETS,
)
retrieval_fused_results = Histogram(
    "portal_retrieval_fused_results",
    "Chunks returned by one retrieval after fusion and the final permission check",
    buckets=(0, 1, 2, 3, 5, 8, 10, 15, 20, 30, 50),
)
retrieval_requests_total = Counter(
    "portal_retrieval_requests_total", "Retrievals by whether they came from the cache", ["cached"]
)

# --- Answers and LLM calls (ANSWERS and LLM teams increment these) ----------------------------
answers_total = Counter(
    "portal_answers_total",
    "Answered questions by outcome (answered|refused|blocked|timed_out|failed) and channel",
    ["outcome", "channel", "tenant"],
)
answer_seconds = Histogram(
    "portal_answer_seconds", "End-to-end answer latency by outcome", ["outcome"], buckets=SLOW_BUCKETS
)
answer_step_seconds = Histogram(
    "portal_answer_step_seconds", "Time per orchestrator step", ["step"], buckets=FAST_BUCKETS
)
llm_calls_total = Counter(
    "portal_llm_calls_total",
    "LLM provider calls by provider and outcome (ok|timeout|rate_limited|overloaded|server_error|error)",
    ["provider", "outcome"],
)
llm_tokens_total = Counter(
    "portal_llm_tokens_total",
    "LLM tokens by provider and direction (input|output)",
    ["provider", "direction", "tenant"],
)
llm_call_seconds = Histogram(
    "portal_llm_call_seconds", "LLM call latency by provider and outcome", ["provider", "outcome"], buckets=SLOW_BUCKETS
)
llm_time_to_first_token_seconds = Histogram(
    "portal_llm_time_to_first_token_seconds", "Time to the first streamed token", ["provider"], buckets=SLOW_BUCKETS
)
llm_fallbacks_total = Counter(
    "portal_llm_fallbacks_total",
    "Times the router left a provider for the next one, by provider left and reason",
    ["provider", "reason"],
)

# --- Surfaces (API and PORTAL teams increment these) ------------------------------------------
rate_limit_rejections_total = Counter(
    "portal_rate_limit_rejections_total", "Requests refused by a rate limit", ["route_class", "tenant"]
)
# API: requests let through unchecked because the rate limiter's Redis did not answer (data plane only).
rate_limit_fail_open_total = Counter(
    "portal_rate_limit_fail_open_total", "Requests allowed without a rate-limit check (Redis down)", ["route_class"]
)
# livesum: with PROMETHEUS_MULTIPROC_DIR set, only live processes count.
active_streams = Gauge(
    "portal_active_streams", "Answer streams open now (websocket|sse)", ["channel"], multiprocess_mode="livesum"
)
# PORTAL: streams refused or cut off (too_many_streams|tenant_busy|slots_unavailable|token_limit|stream_timeout),
# and how long a cancelled stream took to let go of its provider call.
stream_rejections_total = Counter(
    "portal_stream_rejections_total", "Answer streams refused or stopped by a limit", ["reason", "tenant"]
)
stream_cancel_release_seconds = Histogram(
    "portal_stream_cancel_release_seconds",
    "From a stream's cancellation (stop or disconnect) to its provider call being released",
    buckets=FAST_BUCKETS,
)

# --- Ingestion (wired in apps/ingestion) ------------------------------------------------------
ingestion_jobs_total = Counter(
    "portal_ingestion_jobs_total",
    "Ingestion jobs that reached a state (succeeded|failed|skipped|retrying)",
    ["state", "tenant"],
)
ingestion_job_seconds = Histogram(
    "portal_ingestion_job_seconds",
    "From upload (queued) to a final state, by state",
    ["state"],
    buckets=JOB_BUCKETS,
)

# --- Permissions ------------------------------------------------------------------------------
# PostgreSQL and the caches see a permission change in the same transaction (lag 0); the graph
# follows asynchronously, and this measures how long it takes.
permission_change_effect_seconds = Histogram(
    "portal_permission_change_effect_seconds",
    "From a permission change's commit to its effect in a derived store",
    ["store"],
    buckets=JOB_BUCKETS,
)

# The Celery queue depth gauge (portal_celery_queue_depth) is computed at scrape time from Redis by
# apps.core.observability.queues.CeleryQueueDepthCollector, not stored here.
