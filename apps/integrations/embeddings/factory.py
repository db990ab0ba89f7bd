"""The process-wide embedder for the current settings, behind the embedding cache.

One instance per process is right: the ONNX backend holds a ~90 MB session and the remote one a
connection pool. It is keyed by every setting that shapes it, so a test that overrides
EMBEDDER_BACKEND (or the batch size, the URL...) gets a fresh one.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Hashable

from django.conf import settings

from apps.core.adapters import backend_class

from .base import Embedder
from .cache import CachedEmbedder

SHAPING_SETTINGS = (
    "EMBEDDER_BACKEND",
    "EMBEDDING_DIMENSIONS",
    "EMBEDDING_BATCH_SIZE",
    "EMBEDDING_BATCH_TOKENS",
    "EMBEDDING_MAX_TOKENS",
    "EMBEDDING_THREADS",
    "EMBEDDING_CACHE_TTL_SECONDS",
    "REMOTE_EMBEDDINGS_URL",
    "REMOTE_EMBEDDINGS_MODEL",
    "REMOTE_EMBEDDINGS_TIMEOUT",
)

_lock = threading.Lock()
_embedders: dict[tuple[Hashable, ...], CachedEmbedder] = {}


def _settings_key() -> tuple[Hashable, ...]:
    # The API key shapes the client too, but only its digest is kept here, not a second copy of the secret.
    key_digest = hashlib.sha256(settings.REMOTE_EMBEDDINGS_API_KEY.encode()).hexdigest()
    return (*(getattr(settings, name) for name in SHAPING_SETTINGS), key_digest)


def embedder() -> Embedder:
    key = _settings_key()
    with _lock:
        cached = _embedders.get(key)
        if cached is None:
            cached = _embedders[key] = CachedEmbedder(backend_class("EMBEDDER_BACKEND")())
        return cached


def close_embedders() -> None:
    with _lock:
        for cached in _embedders.values():
            close = getattr(cached.inner, "close", None)
            if callable(close):
                close()
        _embedders.clear()
