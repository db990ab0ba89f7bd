"""Leg adapters for failure tests, swapped in through settings.RETRIEVAL_LEGS like any backend."""

from __future__ import annotations

import time

from apps.retrieval.legs.base import Candidate, LegQuery


def legs_with_graph(double: str) -> dict[str, str]:
    """settings.RETRIEVAL_LEGS with the real dense and keyword legs and a double (class name) as graph."""
    return {
        "dense": "apps.retrieval.legs.dense.PgvectorDenseLeg",
        "keyword": "apps.retrieval.legs.keyword.PostgresBM25Leg",
        "graph": f"tests.retrieval.doubles.{double}",
    }


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
