"""A Redis-backed cache in front of any embedder: identical text under the same model is embedded once.

Keys go through the project's KEY_FUNCTION (django_tenants' make_key), so they carry the current schema.
Embeddings of identical text are not tenant secrets, but keeping the prefix keeps isolation a rule
without exceptions, at the cost of the odd duplicate entry.

A question embedded while the same question is being embedded in this process (same tenant, model
and text) waits for that one instead (apps/core/single_flight.py): right after a restart or at a
busy moment, fifty people asking the same few questions ran fifty identical model inferences on
the web process's cores.

The cache is an optimisation, never a dependency: if Redis is down we embed without it, warn once, and
leave Redis alone for a short while so every call does not pay a connect timeout.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
import threading
import time
from collections.abc import Callable

import numpy as np
from django.conf import settings
from django.core.cache import caches
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import RedisError

from apps.core.metrics import cache_hits_total, cache_misses_total
from apps.core.single_flight import SingleFlight
from apps.tenants.context import active_schema_name

from .base import Embedder, Vector

logger = logging.getLogger(__name__)

CACHE_TYPE = "embedding"
KEY_PREFIX = "embedding"
# What an unreachable, overloaded or half-written Redis raises through django-redis (a truncated pickle
# included); anything else is a bug of ours and should surface.
CACHE_UNAVAILABLE = (RedisError, ConnectionInterrupted, OSError, pickle.UnpicklingError)
# A caller waits this long at most for the same question's embedding, then embeds it itself.
SAME_QUERY_WAIT_SECONDS = 10.0


class CachedEmbedder:
    def __init__(
        self,
        inner: Embedder,
        *,
        ttl_seconds: int | None = None,
        cache_alias: str = "default",
        outage_pause_seconds: float = 30.0,
    ) -> None:
        self.inner = inner
        self.model_name = inner.model_name
        self.dimensions = inner.dimensions
        self._ttl = settings.EMBEDDING_CACHE_TTL_SECONDS if ttl_seconds is None else ttl_seconds
        self._cache_alias = cache_alias
        self._outage_pause = outage_pause_seconds
        self._state_lock = threading.Lock()
        self._paused_until = 0.0
        self._in_outage = False
        self.hits = 0
        self.misses = 0
        self._same_queries: SingleFlight[Vector] = SingleFlight(freeze=np.copy, thaw=np.copy)

    def __repr__(self) -> str:
        return f"CachedEmbedder({self.inner!r})"

    def embed_documents(self, texts: list[str]) -> Vector:
        if not texts:
            return self.inner.embed_documents([])
        keys = [self.cache_key(text) for text in texts]
        # Duplicates within one call are looked up and embedded once.
        text_by_key = dict(zip(keys, texts, strict=True))
        vector_by_key = self._read(list(text_by_key))
        missing = [key for key in text_by_key if key not in vector_by_key]
        self._count(hits=len(vector_by_key), misses=len(missing))
        if missing:
            computed = self.inner.embed_documents([text_by_key[key] for key in missing])
            fresh = dict(zip(missing, computed, strict=True))
            vector_by_key.update(fresh)
            self._write(fresh)
        return np.stack([vector_by_key[key] for key in keys]).astype(np.float32, copy=False)

    def embed_query(self, text: str) -> Vector:
        # The tenant is part of the key: a wait must not tell one tenant what another is asking.
        key = f"{active_schema_name()}:{self.cache_key(text)}"
        return self._same_queries.run(
            key, lambda: self.embed_documents([text])[0], wait_seconds=SAME_QUERY_WAIT_SECONDS
        )

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    @property
    def token_spans(self) -> Callable[[str], list[tuple[int, int]]] | None:
        """The inner embedder's, where it has them (see OnnxMiniLMEmbedder.token_spans)."""
        return getattr(self.inner, "token_spans", None)

    def cache_key(self, text: str) -> str:
        # Hashed so keys stay short whatever the text; the model name keeps models' vectors apart.
        digest = hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()
        return f"{KEY_PREFIX}:{self.model_name}:{digest}"

    def _read(self, keys: list[str]) -> dict[str, Vector]:
        if not self._cache_usable():
            return {}
        try:
            stored = caches[self._cache_alias].get_many(keys)
        except CACHE_UNAVAILABLE as error:
            self._cache_failed(error)
            return {}
        self._cache_worked()
        expected_bytes = self.dimensions * np.dtype(np.float32).itemsize
        # Anything that is not a vector of the right size (a changed dimension setting, a stray write) is
        # a miss rather than an error: it will be recomputed and overwritten.
        return {
            key: np.frombuffer(value, dtype=np.float32)
            for key, value in stored.items()
            if isinstance(value, bytes) and len(value) == expected_bytes
        }

    def _write(self, vectors: dict[str, Vector]) -> None:
        if not self._cache_usable():
            return
        payload = {key: np.asarray(vector, dtype=np.float32).tobytes() for key, vector in vectors.items()}
        try:
            caches[self._cache_alias].set_many(payload, timeout=self._ttl)
        except CACHE_UNAVAILABLE as error:
            self._cache_failed(error)
            return
        self._cache_worked()

    def _count(self, *, hits: int, misses: int) -> None:
        with self._state_lock:
            self.hits += hits
            self.misses += misses
        if hits:
            cache_hits_total.labels(cache_type=CACHE_TYPE).inc(hits)
        if misses:
            cache_misses_total.labels(cache_type=CACHE_TYPE).inc(misses)

    def _cache_usable(self) -> bool:
        return time.monotonic() >= self._paused_until

    def _cache_failed(self, error: Exception) -> None:
        with self._state_lock:
            first_failure = not self._in_outage
            self._in_outage = True
            self._paused_until = time.monotonic() + self._outage_pause
        if first_failure:
            logger.warning(
                "embedding cache unavailable (%s: %s); embedding without it, next try in %.0fs",
                type(error).__name__,
                error,
                self._outage_pause,
            )

    def _cache_worked(self) -> None:
        with self._state_lock:
            recovered = self._in_outage
            self._in_outage = False
        if recovered:
            logger.info("embedding cache is reachable again")
