"""Run retrieval legs concurrently, each with a timeout; a failing leg is dropped, never fatal.

Legs run in a process-wide thread pool (the database and Neo4j calls release the GIL), so the
caller's event loop or request thread only waits for the slowest leg, bounded by the timeout.
Each worker thread has its own database connection, which enters the tenant's schema for every leg
(`apps.tenants.context.in_resolved_tenant`) and returns to the public schema after it.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.utils.module_loading import import_string

from apps.core.metrics import retrieval_leg_seconds
from apps.core.observability.tracing import span
from apps.core.thread_pools import process_thread_pool
from apps.tenants.context import in_resolved_tenant

from .legs.base import Candidate, LegQuery, RetrievalLeg

logger = logging.getLogger(__name__)


def leg_pool() -> ThreadPoolExecutor:
    return process_thread_pool("retrieval-leg", size=settings.RETRIEVAL_THREADS)


def leg_adapter(name: str) -> RetrievalLeg:
    """The adapter settings.RETRIEVAL_LEGS names for this leg (swappable in tests)."""
    dotted = settings.RETRIEVAL_LEGS.get(name)
    if not dotted:
        raise KeyError(f"unknown retrieval leg {name!r}; configured: {sorted(settings.RETRIEVAL_LEGS)}")
    return import_string(dotted)()


@dataclass
class LegOutcome:
    status: str  # ok | timeout | error
    candidates: list[Candidate]
    elapsed_ms: float
    error: str = ""


def _run_in_tenant(name: str, leg: RetrievalLeg, query: LegQuery) -> tuple[list[Candidate], float]:
    started = time.perf_counter()
    # A leg thread lives as long as the process: its connection is renewed the way a request's is (past
    # CONN_MAX_AGE, after an error, or failing its health check) instead of being opened for every leg,
    # which cost a connect and authentication on each of the three legs of every question.
    connection.close_if_unusable_or_obsolete()
    try:
        with (
            in_resolved_tenant(query.tenant),
            span(f"retrieval.leg.{name}", **{"retrieval.leg": name, "retrieval.k": query.k}) as leg_span,
        ):
            candidates = leg.search(query)
            leg_span.set_attribute("retrieval.candidates", len(candidates))
        return candidates, (time.perf_counter() - started) * 1000
    finally:
        # A worker thread must not hold a connection open for the life of the process.
        if not settings.DATABASES["default"].get("CONN_MAX_AGE"):
            connection.close()


def leg_connections_close() -> None:
    """Close the database connection of every leg thread (before a test database is dropped)."""
    pool = leg_pool()
    threads = pool._max_workers  # one task per thread: each waits at the barrier until all have one
    barrier = threading.Barrier(threads)

    def close() -> None:
        barrier.wait(timeout=10)
        connection.close()

    wait([pool.submit(close) for _ in range(threads)])


def run_legs(queries: dict[str, LegQuery], *, timeout: float) -> dict[str, LegOutcome]:
    return collect_legs(start_legs(queries), deadline=time.monotonic() + timeout)


def start_legs(queries: dict[str, LegQuery]) -> dict[str, Future]:
    """Submit legs now; `collect_legs` waits for them. Callers may start more legs in between.

    Each leg runs in a copy of the caller's context: its span joins the caller's trace, and its
    log lines keep the request id.
    """
    return {
        name: leg_pool().submit(contextvars.copy_context().run, _run_in_tenant, name, leg_adapter(name), query)
        for name, query in queries.items()
    }


def collect_legs(futures: dict[str, Future], *, deadline: float) -> dict[str, LegOutcome]:
    """Outcomes of started legs; one still running at the deadline is reported as a timeout."""
    timeout = max(deadline - time.monotonic(), 0.0)
    wait(futures.values(), timeout=timeout)
    outcomes = {}
    for name, future in futures.items():
        if not future.done():
            future.cancel()
            limit_ms = settings.RETRIEVAL_LEG_TIMEOUT_SECONDS * 1000
            logger.warning("retrieval leg %s timed out (limit %.0f ms)", name, limit_ms)
            outcomes[name] = LegOutcome(status="timeout", candidates=[], elapsed_ms=limit_ms)
            continue
        error = future.exception()
        if error is not None:
            logger.warning("retrieval leg %s failed: %s", name, type(error).__name__, exc_info=error)
            outcomes[name] = LegOutcome(status="error", candidates=[], elapsed_ms=0.0, error=type(error).__name__)
            continue
        candidates, elapsed_ms = future.result()
        outcomes[name] = LegOutcome(status="ok", candidates=candidates, elapsed_ms=round(elapsed_ms, 2))
    for name, outcome in outcomes.items():
        retrieval_leg_seconds.labels(leg=name, status=outcome.status).observe(outcome.elapsed_ms / 1000)
    return outcomes
