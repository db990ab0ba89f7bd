"""Hot rows kept in process memory: valid only under the shared version in Redis, never without it."""

from __future__ import annotations

import logging

import pytest
from django.contrib.auth.models import Group
from django_redis import get_redis_connection

from apps.core.process_cache import (
    VERSION_KEY,
    process_cache_get,
    process_cache_invalidate,
    process_cache_scope,
)
from tests.documents.factories import UserFactory

pytestmark = pytest.mark.integration


class CountingLoader:
    def __init__(self, value: object = "row") -> None:
        self.value, self.calls = value, 0

    def __call__(self) -> object:
        self.calls += 1
        return self.value


def cached(loader: CountingLoader, key: str = "k") -> object:
    return process_cache_get("test", key, loader)


def shared_version() -> bytes | None:
    return get_redis_connection("default").get(VERSION_KEY)


def another_process_invalidates() -> None:
    get_redis_connection("default").set(VERSION_KEY, "written-by-another-process")


def test_inside_scopes_a_row_is_loaded_once_while_the_shared_version_holds():
    load = CountingLoader()
    with process_cache_scope():
        assert cached(load) == "row"
        assert cached(load) == "row"
    with process_cache_scope():
        assert cached(load) == "row"
    assert load.calls == 1


def test_another_process_changing_the_version_makes_every_copy_stale():
    load = CountingLoader()
    with process_cache_scope():
        cached(load)
    another_process_invalidates()
    with process_cache_scope():
        cached(load)
    assert load.calls == 2


def test_the_version_a_request_read_holds_for_that_request():
    """Another process's write lands mid-request: the request goes on as it started (one snapshot)."""
    load = CountingLoader()
    with process_cache_scope():
        cached(load)
        another_process_invalidates()
        cached(load)
    assert load.calls == 1


@pytest.mark.django_db
def test_a_change_in_this_request_is_seen_by_its_later_lookups():
    load = CountingLoader()
    with process_cache_scope():
        cached(load)
        process_cache_invalidate()
        cached(load)
    assert load.calls == 2


def test_outside_a_scope_every_lookup_loads():
    load = CountingLoader()
    cached(load)
    cached(load)
    assert load.calls == 2


def test_nothing_found_is_never_kept():
    """Unknown hosts and key prefixes are anyone's to send: they must not fill the memory."""
    load = CountingLoader(value=None)
    with process_cache_scope():
        assert cached(load) is None
        assert cached(load) is None
    assert load.calls == 2


def test_entries_expire_after_the_ttl(settings):
    settings.PROCESS_CACHE_TTL_SECONDS = 0
    load = CountingLoader()
    for _request in range(2):
        with process_cache_scope():
            cached(load)
    assert load.calls == 2


def test_the_memory_is_bounded(settings):
    settings.PROCESS_CACHE_MAX_ENTRIES = 2
    loads = [CountingLoader() for _ in range(3)]
    with process_cache_scope():
        for index, load in enumerate(loads):
            cached(load, key=str(index))
    with process_cache_scope():
        cached(loads[0], key="0")
    assert loads[0].calls == 2  # dropped when the third row did not fit


def test_an_unreadable_version_means_memory_is_not_used(settings, caplog):
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
        }
    }
    load = CountingLoader()
    with caplog.at_level(logging.WARNING, logger="apps.core.process_cache"):
        for _request in range(2):
            with process_cache_scope():
                cached(load)
    assert load.calls == 2
    assert "process cache bypassed" in caplog.text


@pytest.mark.django_db
def test_without_redis_configured_nothing_is_kept_and_writes_still_work(settings):
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": ""}}
    load = CountingLoader()
    for _request in range(2):
        with process_cache_scope():
            cached(load)
            process_cache_invalidate()  # what every save of a cached model calls
    assert load.calls == 2


@pytest.mark.django_db
def test_writes_to_cached_models_replace_the_version_but_a_login_does_not(in_alpha):
    user = UserFactory()
    before = shared_version()

    user.save(update_fields=["last_login"])
    assert shared_version() == before

    user.is_active = False
    user.save(update_fields=["is_active"])
    after_deactivation = shared_version()
    assert after_deactivation != before

    group = Group.objects.create(name="readers")
    user.groups.add(group)
    assert shared_version() != after_deactivation
