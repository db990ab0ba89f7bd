"""Rank the sentences of the evidence passages against the question.

Each sentence gets the cosine similarity of its embedding to the question's (the project's
embedder, batched and cached in Redis, so the extractive provider and the evidence check pay for a
sentence once) and the share of the question's terms it covers together with its passage's
title and headings.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from apps.integrations.embeddings.factory import embedder
from apps.integrations.llm.base import EvidencePassage

from .answer_types import expected_answer_type, holds_answer_type, names_unmatched
from .text import PassageUnit, passage_units, question_focus, question_terms, term_set

# Bounds the embedding work per question: passages beyond these add little and cost latency.
MAX_PASSAGES = 6
MAX_SENTENCES_PER_PASSAGE = 24
# Sentence rank = similarity + COVERAGE_WEIGHT * coverage (+ a bonus for holding the asked-for type).
COVERAGE_WEIGHT = 0.35
ANSWER_TYPE_BONUS = 0.05
# A refusal names the documents whose best sentence scores within this of the best one (the
# answerer's own window for a further sentence of the same passage).
CLOSE_SCORE_WINDOW = 0.12
# The chunker writes a section's heading path as "Document > Section".
SECTION_SEPARATOR = " > "


@dataclass(frozen=True)
class ScoredSentence:
    passage_number: int
    position: int  # index of the sentence in its passage
    text: str
    similarity: float
    coverage: float  # share of the question's terms found in the sentence, its title and headings
    has_answer_type: bool
    score: float
    document_id: int = 0
    section: str = ""  # the heading of the section the sentence stands in
    record: bool = False  # a rendered row of a table or object of a JSON document


def _in_section(unit: PassageUnit, *, title_heading: str) -> str:
    """The sentence as embedded: after its section's own heading ("Day one: Collect your laptop..."),
    which often names what the sentence is about when the sentence itself does not. A document's
    title (the passage's first heading, when it is not a path) is left out: it is on topic for
    every sentence and would make any of them look like an answer."""
    if SECTION_SEPARATOR in unit.heading:
        section = unit.heading.rsplit(SECTION_SEPARATOR, 1)[-1].strip()
    else:
        section = unit.heading if unit.heading != title_heading else ""
    return f"{section}: {unit.text}" if section else unit.text


def sentences_rank(
    *, question: str, passages: Sequence[EvidencePassage], max_passages: int = MAX_PASSAGES
) -> list[ScoredSentence]:
    """Every usable sentence of the first `max_passages` passages, best first."""
    candidates: list[tuple[EvidencePassage, int, PassageUnit]] = []
    embedded: list[str] = []
    context_terms: dict[int, frozenset[str]] = {}
    for passage in list(passages)[:max_passages]:
        headings, units = passage_units(passage.text)
        context_terms[passage.number] = term_set(" ".join([passage.title, *headings]))
        for position, unit in enumerate(units[:MAX_SENTENCES_PER_PASSAGE]):
            candidates.append((passage, position, unit))
            embedded.append(_in_section(unit, title_heading=headings[0] if headings else ""))
    if not candidates:
        return []
    vectors = embedder().embed_documents([question, *embedded])
    similarities = vectors[1:] @ vectors[0]
    wanted = question_terms(question)
    kind = expected_answer_type(question)
    scored = []
    for (passage, position, unit), similarity in zip(candidates, similarities, strict=True):
        found = term_set(unit.text) | context_terms[passage.number]
        coverage = len(wanted & found) / len(wanted) if wanted else 0.0
        typed = holds_answer_type(unit.text, kind=kind, question=question)
        score = float(similarity) + COVERAGE_WEIGHT * coverage + (ANSWER_TYPE_BONUS if typed and kind else 0.0)
        scored.append(
            ScoredSentence(
                passage_number=passage.number,
                position=position,
                text=unit.text,
                similarity=round(float(similarity), 4),
                coverage=round(coverage, 4),
                has_answer_type=typed,
                score=round(score, 4),
                document_id=passage.document_id,
                section=unit.heading,
                record=unit.record,
            )
        )
    return sorted(scored, key=lambda item: (-item.score, item.passage_number, item.position))


def focus_rank(*, question: str, passages: Sequence[EvidencePassage]) -> list[ScoredSentence]:
    """The passages' sentences ranked against the question sentence of a question that first tells a
    situation (`question_focus`); empty for a question of one sentence."""
    focus_question = question_focus(question)
    return sentences_rank(question=focus_question, passages=passages) if focus_question else []


def follow_up_rank(*, question: str, focus: str, passages: Sequence[EvidencePassage]) -> list[ScoredSentence]:
    """The sentences ranked by the geometric mean of their scores against the whole question and
    against what a follow-up adds to it, so a sentence must answer both: "How many vacation days do
    I get per year, for part-timers?" is answered by the part-timers' sentence (0.41 on the whole
    question, 0.47 on "part-timers"), not the full-timers' one that matches the earlier question
    best (0.79, 0.14), which an arithmetic mean still put first. Without a focus, `sentences_rank`."""
    ranked = sentences_rank(question=question, passages=passages)
    if not focus or not ranked:
        return ranked
    on_focus = {
        (item.passage_number, item.position): item.score for item in sentences_rank(question=focus, passages=passages)
    }
    combined = [
        replace(
            item,
            score=round(math.sqrt(max(item.score, 0.0) * max(on_focus[(item.passage_number, item.position)], 0.0)), 4),
        )
        for item in ranked
    ]
    return sorted(combined, key=lambda item: (-item.score, item.passage_number, item.position))


def closest_passages(ranked: Sequence[ScoredSentence]) -> list[int]:
    """The passage holding each document's best sentence, best first, for the documents whose best
    sentence scores within CLOSE_SCORE_WINDOW of the best: where to look after a near miss."""
    if not ranked:
        return []
    floor = ranked[0].score - CLOSE_SCORE_WINDOW
    best_of_document: dict[int, int] = {}
    for sentence in ranked:
        if sentence.score < floor:
            break
        best_of_document.setdefault(sentence.document_id, sentence.passage_number)
    return list(best_of_document.values())


def unmatched_names(*, asked: str, passages: Sequence[EvidencePassage]) -> list[str]:
    """The names `asked` (the question, or its question sentence) holds that no passage or passage
    title mentions."""
    return names_unmatched(asked, (f"{passage.title}\n{passage.text}" for passage in passages))
