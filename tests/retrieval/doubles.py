"""Leg adapters for failure tests, swapped in through settings.RETRIEVAL_LEGS like any backend."""

from __future__ import annotations

import time

from apps.retrieval.legs.base import Candidate, LegQuery


class SlowLeg:
    name = "graph"

    def search(self, query: LegQuery) -> list[Candidate]:
        time.sleep(3)
        return []


class BrokenLeg:
    name = "graph"

    def search(self, query: LegQuery) -> list[Candidate]:
        raise ConnectionError("graph store unreachable")


class BackendPidLeg:
    """Records which PostgreSQL backend served it (connection reuse tests)."""

    name = "keyword"
    pids: list[int] = []  # shared on purpose: every instance records here

    def search(self, query: LegQuery) -> list[Candidate]:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            BackendPidLeg.pids.append(cursor.fetchone()[0])
        return []
