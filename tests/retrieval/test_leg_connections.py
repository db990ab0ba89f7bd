"""Retrieval leg threads keep their database connection between legs, as a request thread would."""

from __future__ import annotations

import time

import pytest
from django.db import connection
from django.test import override_settings

from apps.retrieval.legs.base import LegQuery
from apps.retrieval.runner import leg_connections_close, run_legs

from .doubles import BackendPidLeg

pytestmark = [pytest.mark.integration]

LEGS = {"keyword": "tests.retrieval.doubles.BackendPidLeg"}


def _backend_pids_after(rounds: int) -> list[int]:
    BackendPidLeg.pids.clear()
    query = LegQuery(tenant="alpha", principals=("superuser",), text="refunds", k=5)
    for _ in range(rounds):
        outcome = run_legs({"keyword": query}, timeout=5)
        assert outcome["keyword"].status == "ok", outcome["keyword"].error
    return list(BackendPidLeg.pids)


def _open_backends(pids: list[int]) -> set[int]:
    with connection.cursor() as cursor:
        # Statistics views are a snapshot per transaction, and this test runs inside one.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE pid = ANY(%s)", [pids])
        return {row[0] for row in cursor.fetchall()}


def _open_backends_settled(pids: list[int], *, seconds: float = 5.0) -> set[int]:
    """A backend leaves pg_stat_activity a moment after its client hung up."""
    deadline = time.monotonic() + seconds
    while (still_open := _open_backends(pids)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return still_open


def test_leg_connections_are_reused_until_closed(committed_db, tenant_alpha, deployment_connections):
    with override_settings(RETRIEVAL_LEGS=LEGS):
        pids = _backend_pids_after(rounds=12)
        assert len(set(pids)) < 6  # idle pool threads are reused, each with its open connection
        assert _open_backends(pids) == set(pids)
        leg_connections_close()
        assert _open_backends_settled(pids) == set()


def test_without_persistent_connections_every_leg_closes_its_own(committed_db, tenant_alpha):
    with override_settings(RETRIEVAL_LEGS=LEGS):
        pids = _backend_pids_after(rounds=4)
    assert len(set(pids)) == 4
    assert _open_backends_settled(pids) == set()
