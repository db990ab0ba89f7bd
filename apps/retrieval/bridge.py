"""The bridge hop: a second round for a question of several hops, through the first round's best passage.

"Who is the spouse of Big Eyes' main director?" names the film, not the director; the passage that
answers it names the director, not the film. The first round finds the film's passage ("... directed
by Tim Burton ..."); the names in it that the question does not name become part of a second
question ("... Tim Burton ..."), retrieved with the dense and graph legs, and the two rankings are fused
(reciprocal rank, each round weighing the same). The graph leg then walks from the bridge names too.

Only questions whose asking sentence has an embedded clause, a possessive chain or "the <role> of
<Name>" (`apps.text.questions.sub_questions`) take the second round, so a plain question costs
nothing more. The sentences before the asking one tell the asker's situation ("I rent a flat which
needs repairs. Can my landlord ...?"): conditions to meet, not names to hop through.
Measured in docs/retrieval.md ("The bridge hop"): MuSiQue recall@5 0.663 -> 0.708, no other set
lower. Every chunk of either round passed the final ACL check of its round.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from apps.text.entities.offline import KIND_ACRONYM, KIND_NAME, OfflineEntityExtractor, extract_query_entities
from apps.text.questions import asked_sentence, sub_questions

if TYPE_CHECKING:
    from .search import RetrievedChunk

BRIDGE_NAMES = 4  # names of the best passage added to the question
# The second round's legs. Not the keyword leg: its scoring runs in Python, and on a loaded machine
# it slowed the round more than it gave (MuSiQue recall@5 0.711 with it, 0.728 without; docs/retrieval.md).
BRIDGE_LEGS = ("dense", "graph")


def takes_bridge_hop(question: str) -> bool:
    """Whether the question asks through another thing first ("the spouse of the director of X")."""
    return bool(sub_questions(asked_sentence(question)))


def bridge_query(question: str, passage: str) -> str | None:
    """The question with the passage's names it does not already name; None for a question of one
    hop or a passage that names nothing new."""
    if not takes_bridge_hop(question):
        return None
    asked = {entity.key for entity in extract_query_entities(text=question)}
    names: list[str] = []
    for entity in OfflineEntityExtractor().extract(texts=[passage])[0]:
        if entity.kind in (KIND_NAME, KIND_ACRONYM) and entity.key not in asked and entity.name not in names:
            names.append(entity.name)
    return f"{question} {' '.join(names[:BRIDGE_NAMES])}" if names else None


def bridged(
    first: Sequence[RetrievedChunk], second: Sequence[RetrievedChunk], *, k: int, rrf_k: float
) -> list[RetrievedChunk]:
    """Both rounds' chunks fused by rank. A chunk keeps its first-round leg scores; one found only by
    the bridge round carries none, since its scores answer another question (the answers' evidence
    check reads the dense scores as the question's)."""
    scores: dict[int, float] = {}
    chunks: dict[int, RetrievedChunk] = {}
    for round_chunks, keeps_scores in ((first, True), (second, False)):
        for rank, chunk in enumerate(round_chunks, start=1):
            scores[chunk.chunk_id] = scores.get(chunk.chunk_id, 0.0) + 1.0 / (rrf_k + rank)
            if chunk.chunk_id not in chunks:
                chunks[chunk.chunk_id] = chunk if keeps_scores else replace(chunk, leg_scores={}, leg_ranks={})
    ranked = sorted(scores, key=lambda chunk_id: (-scores[chunk_id], chunk_id))[:k]
    return [
        replace(chunks[chunk_id], fused_score=round(scores[chunk_id], 6), fused_rank=rank)
        for rank, chunk_id in enumerate(ranked, start=1)
    ]
