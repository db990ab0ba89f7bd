"""What every retrieval leg receives and returns.

A leg proposes candidate chunk ids with scores for one tenant and one principal set. Each leg
applies the ACL inside its own query (so it never truncates to k before filtering), and the fused
list is checked again in PostgreSQL before anything is returned.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from apps.documents.index_state import IndexSnapshot


@dataclass(frozen=True)
class LegQuery:
    tenant: str
    principals: tuple[str, ...]
    text: str
    k: int
    embedding: np.ndarray | None = None
    terms: tuple[str, ...] = ()
    entity_keys: tuple[str, ...] = ()
    # Entities whose neighbours an earlier round of the same question walked already (the bridge
    # hop's second round): the graph leg still reads the chunks that mention them, not their neighbours.
    walked_keys: tuple[str, ...] = ()
    filters: dict = field(default_factory=dict)
    # The tenant's corpus statistics, read once per question by the caller; legs read them if absent.
    corpus: IndexSnapshot | None = None


@dataclass(frozen=True)
class Candidate:
    chunk_id: int
    score: float


class RetrievalLeg(Protocol):
    name: str

    def search(self, query: LegQuery) -> list[Candidate]: ...
