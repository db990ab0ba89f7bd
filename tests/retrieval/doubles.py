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
