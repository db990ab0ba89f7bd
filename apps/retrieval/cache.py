"""Retrieval and response caches in Redis, keyed so that nothing stale or foreign is served.

Keys hold the tenant, the sorted principal set and the tenant's index version (bumped in the same
transaction as any ingest, delete or permission change), so a revoked grant can never be answered
from a cache. Redis being down only means no caching.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.cache import cache

from apps.core.metrics import cache_hits_total, cache_misses_total

logger = logging.getLogger(__name__)


def cache_key(kind: str, **parts: Any) -> str:
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()
    return f"{kind}:{digest}"


def legs_degraded(leg_statuses: Mapping[str, str]) -> bool:
    """A retrieval leg failed or timed out (under load, or its store is down)."""
    return any(status != "ok" for status in leg_statuses.values())


def cache_ttl(full_ttl: int, *, degraded: bool) -> int:
    """A degraded result is kept only settings.DEGRADED_CACHE_TTL_SECONDS: not replayed long after the
    pressure or outage ends, yet a busy system is spared the same work for every repeat."""
    return settings.DEGRADED_CACHE_TTL_SECONDS if degraded else full_ttl


def cache_get(kind: str, key: str) -> Any | None:
    try:
        value = cache.get(key)
    except Exception:
        logger.warning("%s cache unavailable (get)", kind, exc_info=True)
        value = None
    (cache_hits_total if value is not None else cache_misses_total).labels(cache_type=kind).inc()
    return value


def cache_set(kind: str, key: str, value: Any, *, ttl: int) -> None:
    try:
        cache.set(key, value, timeout=ttl)
    except Exception:
        logger.warning("%s cache unavailable (set)", kind, exc_info=True)
