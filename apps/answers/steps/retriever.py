"""Retriever: find passages for the question (and each sub-question), quarantine hostile ones, number the rest.

`retrieve_for_principals` already checks every chunk against PostgreSQL permissions; nothing else
reaches the evidence. A passage that reads like instructions to the model (indirect prompt
injection) or that a content filter refuses is dropped and recorded in the trace, never shown to
a provider.
"""

from __future__ import annotations

import logging
from itertools import zip_longest

from django.conf import settings

from apps.answers.evidence import RetrievalSignals
from apps.answers.orchestrator.state import AnswerState
from apps.answers.orchestrator.trace import StepRecord
from apps.answers.safety.content_filter import content_filters_run
from apps.answers.safety.injection import injection_scan
from apps.integrations.llm.base import EvidencePassage
from apps.retrieval.search import RetrievalResult, RetrievedChunk, retrieve_for_principals

logger = logging.getLogger(__name__)

SUB_QUESTION_K = 4


def retriever_run(state: AnswerState, record: StepRecord) -> None:
    plan = state.plan
    assert plan is not None  # the planner ran
    main = retrieve_for_principals(
        principals=state.principals, query=state.question, k=plan.k, legs=plan.legs, use_cache=state.use_cache
    )
    results = [main] + [
        retrieve_for_principals(
            principals=state.principals,
            query=sub_question,
            k=min(plan.k, SUB_QUESTION_K),
            legs=plan.legs,
            use_cache=state.use_cache,
        )
        for sub_question in plan.sub_questions
    ]
    state.leg_statuses = _merged_statuses(results)
    candidates = _interleaved(results)
    accepted, quarantined = _screened(candidates, state=state)
    state.retrieval_signals = _signals(main, accepted)
    state.passages = [
        EvidencePassage(
            number=number,
            chunk_id=chunk.chunk_id,
            document_id=chunk.document_id,
            title=chunk.document_title,
            text=chunk.text,
            score=chunk.fused_score,
        )
        for number, chunk in enumerate(accepted, start=1)
    ]
    state.chunks_by_number = dict(enumerate(accepted, start=1))
    record.summary.update(
        {
            "chunks_in": len(candidates),
            "chunks_out": len(accepted),
            "quarantined": len(quarantined),
            "quarantined_chunk_ids": quarantined,
            "queries": len(results),
            "legs": state.leg_statuses,
            "cached": all(result.cached for result in results),
        }
    )


def _interleaved(results: list[RetrievalResult]) -> list[RetrievedChunk]:
    """Round-robin over the question's and the sub-questions' lists, each chunk once, best first."""
    seen: set[int] = set()
    merged: list[RetrievedChunk] = []
    for row in zip_longest(*(result.chunks for result in results)):
        for chunk in row:
            if chunk is not None and chunk.chunk_id not in seen:
                seen.add(chunk.chunk_id)
                merged.append(chunk)
    return merged


def _screened(candidates: list[RetrievedChunk], *, state: AnswerState) -> tuple[list[RetrievedChunk], list[int]]:
    accepted: list[RetrievedChunk] = []
    quarantined: list[int] = []
    for chunk in candidates:
        if len(accepted) == settings.ANSWER_MAX_PASSAGES:
            break
        verdict = injection_scan(chunk.text)
        refused = not verdict.blocked and not content_filters_run(text=chunk.text, stage="passage").allowed
        if verdict.blocked or refused:
            quarantined.append(chunk.chunk_id)
            logger.warning(
                "passage quarantined",
                extra={
                    "tenant_schema": state.tenant_schema,
                    "chunk_id": chunk.chunk_id,
                    "document_id": chunk.document_id,
                    "rules": verdict.rules if verdict.blocked else ["content_filter"],
                },
            )
            continue
        accepted.append(chunk)
    return accepted, quarantined


def _merged_statuses(results: list[RetrievalResult]) -> dict[str, str]:
    """A leg counts as ok only if it was ok for every query; otherwise its first other status."""
    merged: dict[str, str] = {}
    for result in results:
        for leg, status in result.legs.items():
            if merged.get(leg, "ok") == "ok":
                merged[leg] = status
    return merged


def _signals(main: RetrievalResult, accepted: list[RetrievedChunk]) -> RetrievalSignals:
    """How far the first passage's dense cosine stands above the other passages' mean."""
    if main.legs.get("dense") != "ok":
        return RetrievalSignals()
    dense = [chunk.leg_scores["dense"] for chunk in accepted if "dense" in chunk.leg_scores]
    gap = dense[0] - sum(dense[1:]) / len(dense[1:]) if len(dense) > 1 else 0.0
    return RetrievalSignals(passage_gap=gap)
