"""The web process's pooled connections are probed before use only when they sat idle: a dead one
that sat idle is replaced without an error, one handed back just now is used without a round trip."""

from __future__ import annotations

import copy

import pytest
from django.db import OperationalError, connection, connections

from apps.core import database
from apps.core.postgresql_backend import base as backend


@pytest.fixture
def pooled(db):
    """A Django connection of the web process's kind (pool of one), on the test database."""
    settings_dict = copy.deepcopy(connection.settings_dict)
    settings_dict.update(CONN_MAX_AGE=0, CONN_HEALTH_CHECKS=False)
    settings_dict["OPTIONS"]["pool"] = {"min_size": 1, "max_size": 1, "reset": database.pooled_connection_returned}
    wrapper = type(connections["default"])(settings_dict, alias="pool_probe_test")
    wrapper.set_schema_to_public()
    yield wrapper
    wrapper.close()
    wrapper.close_pool()


def backend_pid(wrapper) -> int:
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def terminate(pid: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])


def test_a_dead_connection_that_sat_idle_is_replaced_without_an_error(pooled, monkeypatch):
    first = backend_pid(pooled)
    pooled.close()  # handed back to the pool
    terminate(first)  # as a server restart would
    monkeypatch.setattr(backend, "PROBE_IDLE_SECONDS", -1.0)  # it has sat idle long enough
    assert backend_pid(pooled) != first


def test_a_connection_handed_back_just_now_is_used_without_a_probe(pooled):
    first = backend_pid(pooled)
    pooled.close()
    terminate(first)
    # No probe: the dead connection is used as it is, and its first statement fails.
    with pytest.raises(OperationalError):
        backend_pid(pooled)


def test_a_connection_never_handed_back_counts_as_idle():
    class Fresh:
        pass

    assert database.pooled_connection_idle_seconds(Fresh()) == float("inf")
