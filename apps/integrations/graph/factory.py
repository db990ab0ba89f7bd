"""The process-wide graph store for the current settings.

A driver holds a connection pool, so one per process is right; it is keyed by the settings that
shape it, so a test that overrides NEO4J_URI or GRAPH_STORE_BACKEND gets a fresh one.
"""

from __future__ import annotations

import threading

from django.conf import settings

from apps.core.adapters import backend_class

from .base import GraphStore

_lock = threading.Lock()
_stores: dict[tuple[str, str], GraphStore] = {}


def graph_store() -> GraphStore:
    key = (settings.GRAPH_STORE_BACKEND, settings.NEO4J_URI)
    with _lock:
        store = _stores.get(key)
        if store is None:
            store = backend_class("GRAPH_STORE_BACKEND")()
            _stores[key] = store
        return store


_schemas_ensured: set[tuple[str, str]] = set()


def graph_schema_ensure() -> None:
    """Create constraints and indexes once per process and store (idempotent on the server too)."""
    key = (settings.GRAPH_STORE_BACKEND, settings.NEO4J_URI)
    if key in _schemas_ensured:
        return
    graph_store().ensure_schema()
    _schemas_ensured.add(key)


def close_graph_stores() -> None:
    with _lock:
        for store in _stores.values():
            store.close()
        _stores.clear()
        _schemas_ensured.clear()
