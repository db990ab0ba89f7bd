"""Synthesizer: judge the evidence, then stream the answer from the model router (or refuse).

The evidence check runs before any provider is called, whichever provider the tenant uses: an
answer without sufficient evidence is a refusal, not a guess, and it costs no tokens. A multi-hop
question also passes when the evidence for each of its hops (the planner's sub-questions) does.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from django.conf import settings

from apps.answers.evidence import EvidenceAssessment, RetrievalSignals, evidence_assess, sentences_rank
from apps.answers.orchestrator.state import AnswerState
from apps.answers.orchestrator.trace import StepRecord
from apps.answers.prompting import SYSTEM_PROMPT, prompt_build
from apps.answers.router import GenerationRecord, model_router
from apps.integrations.llm.base import GenerationRequest


def _every_hop_supported(state: AnswerState, record: StepRecord) -> EvidenceAssessment | None:
    """A multi-hop question rarely resembles any one sentence; its evidence suffices when each hop's does."""
    hops = [
        evidence_assess(sentences=sentences_rank(question=hop, passages=state.passages), retrieval=RetrievalSignals())
        for hop in state.plan.sub_questions  # type: ignore[union-attr]
    ]
    record.summary["evidence"]["hops"] = [round(hop.confidence, 4) for hop in hops]
    if not all(hop.sufficient for hop in hops):
        return None
    assert state.assessment is not None
    return replace(state.assessment, sufficient=True, reason="", confidence=min(hop.confidence for hop in hops))


def synthesis_start(
    state: AnswerState, record: StepRecord, *, generation: GenerationRecord, timeout_seconds: float
) -> Iterator[str] | None:
    """The router's stream of text deltas, or None when the evidence does not justify an answer."""
    ranked = sentences_rank(question=state.question, passages=state.passages)
    state.assessment = evidence_assess(sentences=ranked, retrieval=state.retrieval_signals)
    record.summary.update({"chunks_in": len(state.passages), "sentences_in": len(ranked)})
    record.summary["evidence"] = state.assessment.summary()
    if not state.assessment.sufficient and state.plan is not None and state.plan.sub_questions:
        state.assessment = _every_hop_supported(state, record) or state.assessment
    if not state.assessment.sufficient:
        state.reason = state.assessment.reason
        return None
    request = GenerationRequest(
        question=state.question,
        passages=state.passages,
        system=SYSTEM_PROMPT,
        prompt=prompt_build(question=state.question, passages=state.passages),
        max_tokens=settings.ANSWER_MAX_TOKENS,
        timeout_seconds=timeout_seconds,
    )
    return model_router().stream(request, tenant_schema=state.tenant_schema, record=generation)
