"""Rows that every request reads (tenant by host, API key by prefix, user with groups, tenant
settings), kept in this process's memory while one shared version in Redis is unchanged.

Why: each of those reads is a SQL round trip plus ~1 ms of ORM query building, and under load they
were a third of the web process's CPU per cached answer (measured with py-spy); tenant settings
alone were asked for four times per question. Why it stays correct across processes: any write to
a cached model replaces the shared version (when the write happens and again after it commits, see
`process_cache_invalidate`), and a request reads that version once, before its first cache lookup,
so every process drops its copies on its next request. A revoked key or a deactivated user is
refused on the next request, as without the cache.

Inside one scope (a request, an answer stream) a row is read at most once even when memory cannot
be trusted. Fails closed: outside a scope (Celery tasks, commands) every lookup goes to the
database, and when Redis cannot be read each scope reads for itself. Entries also expire after
PROCESS_CACHE_TTL_SECONDS, which bounds how long a change that bypassed the signals (raw SQL, a
lost version write) can go unseen.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from django.conf import settings
from django.db import transaction
from django.db.models import Model
from django.db.models.signals import m2m_changed, post_delete, post_save
from django_redis import get_redis_connection
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

VERSION_KEY = "process-cache:version"
T = TypeVar("T")


_UNREAD = ""  # a scope's version before its first lookup


class _Scope:
    """One request's view of the shared version (read lazily, then fixed) and the rows it read."""

    __slots__ = ("rows", "version")

    def __init__(self) -> None:
        self.version: str | None = _UNREAD  # None: Redis could not say, so memory is not used
        self.rows: dict[tuple[str, Hashable], Any] = {}

    def forget(self) -> None:
        self.version = _UNREAD
        self.rows.clear()


@dataclass(frozen=True, slots=True)
class _Entry:
    version: str
    stored_at: float
    value: Any


_scope: ContextVar[_Scope | None] = ContextVar("process_cache_scope", default=None)
_entries: dict[tuple[str, Hashable], _Entry] = {}
_entries_lock = threading.Lock()


@contextmanager
def process_cache_scope() -> Iterator[None]:
    """Lookups inside may be served from memory (a request: see ProcessCacheScopeMiddleware).
    Re-entrant: an inner scope is the outer one."""
    if _scope.get() is not None:
        yield
        return
    token = _scope.set(_Scope())
    try:
        yield
    finally:
        _scope.reset(token)


def process_cache_get(namespace: str, key: Hashable, load: Callable[[], T]) -> T:
    """`load()`'s result, from memory when it was loaded under the current shared version.

    None is never kept: a lookup that finds nothing (an unknown host or key prefix, which anyone
    can send) always asks the database, so callers cannot fill the memory with misses.
    """
    scope = _scope.get()
    if scope is None:
        return load()
    cache_key = (namespace, key)
    if cache_key in scope.rows:
        return scope.rows[cache_key]
    value = _shared_get(scope, cache_key, load)
    if value is not None:
        scope.rows[cache_key] = value
    return value


def _shared_get(scope: _Scope, cache_key: tuple[str, Hashable], load: Callable[[], T]) -> T:
    if scope.version == _UNREAD:
        scope.version = _version_read()
    if scope.version is None:
        return load()
    now = time.monotonic()
    entry = _entries.get(cache_key)
    if (
        entry is not None
        and entry.version == scope.version
        and now - entry.stored_at < settings.PROCESS_CACHE_TTL_SECONDS
    ):
        return entry.value
    value = load()
    if value is not None:
        _store(cache_key, _Entry(version=scope.version, stored_at=now, value=value))
    return value


def process_cache_invalidate() -> None:
    """Every process's cached rows are stale: call on any write to a cached model.

    The version is replaced now, so a test or request in the writing transaction sees the change,
    and again after commit, so a process that reloaded between the two cannot keep what it read
    before the commit.
    """
    _version_replace()
    scope = _scope.get()
    if scope is not None:
        scope.forget()  # this request's later lookups see its own change
    transaction.on_commit(_version_replace)


def process_cache_invalidated_by(*models: type[Model], ignore_fields: frozenset[str] = frozenset()) -> None:
    """Connect the invalidation to every save and delete of `models` (call in AppConfig.ready, so
    it holds in every process that can write them: web, worker, command, shell). A save limited to
    `ignore_fields` (a user's last login time, say) leaves the cache alone."""
    for model in models:
        receiver = partial(_invalidate_on_save, ignore_fields=ignore_fields)
        post_save.connect(receiver, sender=model, weak=False, dispatch_uid=f"process-cache:save:{model._meta.label}")
        post_delete.connect(
            _invalidate_on_signal, sender=model, dispatch_uid=f"process-cache:delete:{model._meta.label}"
        )


def process_cache_invalidated_by_m2m(*through_models: type[Model]) -> None:
    """As process_cache_invalidated_by, for membership tables (a user joining a group)."""
    for through in through_models:
        m2m_changed.connect(_invalidate_on_m2m, sender=through, dispatch_uid=f"process-cache:m2m:{through._meta.label}")


def _invalidate_on_signal(**_: object) -> None:
    process_cache_invalidate()


def _invalidate_on_save(
    *, ignore_fields: frozenset[str], update_fields: frozenset[str] | None = None, **_: object
) -> None:
    if update_fields is None or not ignore_fields.issuperset(update_fields):
        process_cache_invalidate()


def _invalidate_on_m2m(*, action: str, **_: object) -> None:
    if action.startswith("post_"):
        process_cache_invalidate()


def process_cache_clear() -> None:
    """Forget this process's entries (tests)."""
    with _entries_lock:
        _entries.clear()


def _store(cache_key: tuple[str, Hashable], entry: _Entry) -> None:
    with _entries_lock:
        if len(_entries) >= settings.PROCESS_CACHE_MAX_ENTRIES:
            _entries.clear()  # a bound, not a policy: the rows reload on their next use
        _entries[cache_key] = entry


def _version_read() -> str | None:
    """The shared version; a fresh random one if Redis lost it (never a value seen before)."""
    if not _redis_configured():
        return None
    try:
        client = get_redis_connection("default")
        version = client.get(VERSION_KEY)
        if version is None:
            client.set(VERSION_KEY, uuid.uuid4().hex, nx=True)
            version = client.get(VERSION_KEY)
    except (RedisError, OSError) as error:  # whatever Redis says then, memory is not trusted
        logger.warning("process cache bypassed: the shared version is unreadable (%s)", type(error).__name__)
        return None
    return version.decode() if isinstance(version, bytes) else version


def _version_replace() -> None:
    if not _redis_configured():
        return  # then no process keeps rows in memory: nothing to invalidate
    try:
        get_redis_connection("default").set(VERSION_KEY, uuid.uuid4().hex)
    except (RedisError, OSError) as error:  # readers bypass memory while Redis is down; the TTL bounds the rest
        logger.error(
            "process cache version not replaced (%s): other processes may serve cached rows for up to %s s",
            type(error).__name__,
            settings.PROCESS_CACHE_TTL_SECONDS,
        )


def _redis_configured() -> bool:
    """A command run without REDIS_URL (a one-off script, say) must still be able to save users."""
    return bool(settings.CACHES["default"].get("LOCATION"))
