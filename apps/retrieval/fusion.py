"""Reciprocal rank fusion: combine ranked lists without comparing incompatible scores."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .legs.base import Candidate


@dataclass
class FusedCandidate:
    chunk_id: int
    score: float = 0.0
    leg_scores: dict[str, float] = field(default_factory=dict)
    leg_ranks: dict[str, int] = field(default_factory=dict)


def reciprocal_rank_fusion(
    ranked: Mapping[str, list[Candidate]], *, weights: Mapping[str, float], k: float
) -> list[FusedCandidate]:
    """score(chunk) = sum over legs of weight / (k + rank), ranks starting at 1; ties by best rank."""
    fused: dict[int, FusedCandidate] = {}
    for leg, candidates in ranked.items():
        weight = weights.get(leg, 1.0)
        for rank, candidate in enumerate(candidates, start=1):
            entry = fused.setdefault(candidate.chunk_id, FusedCandidate(chunk_id=candidate.chunk_id))
            entry.score += weight / (k + rank)
            entry.leg_scores[leg] = candidate.score
            entry.leg_ranks[leg] = rank
    return sorted(fused.values(), key=lambda entry: (-entry.score, min(entry.leg_ranks.values()), entry.chunk_id))
