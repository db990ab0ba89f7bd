"""Synthesizer: judge the evidence, then stream the answer from the model router (or refuse).

An answer without sufficient evidence is a refusal, not a guess: no text of a provider is ever
shown for it. A multi-hop question also passes when the evidence for each of its hops (the
planner's sub-questions) does. The prompt depends only on the passages, so when the tenant's first
provider is a speculative one (a remote model, slow to its first token) its request is sent before
the evidence is judged and abandoned on a refusal (router/prefetch.py): the check then costs no
time to first token, and a refused question costs its prompt's input tokens. Otherwise no provider
is called before the evidence passes, and a refusal costs nothing.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import replace

from django.conf import settings

from apps.answers.evidence import EvidenceAssessment, RetrievalSignals, evidence_assess, sentences_rank
from apps.answers.evidence.sentences import closest_passages, focus_rank, unmatched_names
from apps.answers.evidence.text import question_focus
from apps.answers.orchestrator.state import MULTI_HOP, AnswerState
from apps.answers.orchestrator.trace import StepRecord
from apps.answers.prompting import MASKED_VALUES_RULE, SYSTEM_PROMPT, prompt_build
from apps.answers.router import GenerationRecord, model_router
from apps.answers.router.prefetch import PrefetchedStream
from apps.core.pii import PiiMasker
from apps.integrations.llm.base import GenerationRequest
from apps.tenants.pii_policy import prompt_masker
from apps.tenants.selectors import tenant_settings_get


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
    tenant_settings = tenant_settings_get(schema_name=state.tenant_schema)
    state.prompt_masker = masker = prompt_masker(state.tenant_schema)
    request = GenerationRequest(
        question=state.question,
        passages=state.passages,
        system=SYSTEM_PROMPT if masker is None else SYSTEM_PROMPT + MASKED_VALUES_RULE,
        prompt=_prompt(state, masker),
        max_tokens=settings.ANSWER_MAX_TOKENS,
        timeout_seconds=timeout_seconds,
        focus=state.focus,
        multi_hop=state.plan is not None and state.plan.kind == MULTI_HOP,
    )
    router = model_router()

    def start(request: GenerationRequest) -> Generator[str, None, None]:
        return router.stream(
            request, tenant_schema=state.tenant_schema, record=generation, tenant_settings=tenant_settings
        )

    prefetched = PrefetchedStream(start(request)) if state.passages and router.speculates(tenant_settings) else None
    record.summary["speculative"] = prefetched is not None
    sufficient = False
    try:
        sufficient = _evidence_suffices(state, record) or _left_to_the_model(
            state, record, judging=router.judges_evidence(tenant_settings)
        )
    finally:
        if prefetched is not None and not sufficient:
            prefetched.close()
    if not sufficient:
        return None
    # Borderline evidence reaches a provider that cannot judge it only by fallback; it must then refuse
    # rather than quote a near miss. (A speculative request went out before the judgement, unmarked: its
    # fallback happens only if the judging provider fails before its first token.)
    borderline = state.assessment is not None and state.assessment.borderline
    return prefetched or start(replace(request, evidence_borderline=borderline))


def _prompt(state: AnswerState, masker: PiiMasker | None) -> str:
    """The chat prompt; with the tenant's prompt policy at "mask", personal data in the question and
    passages leaves as numbered placeholders (the extractive provider runs here and reads the
    passages themselves). The pipeline puts the values back in each sentence before it is verified:
    they come from passages retrieved for this user, or from the question, so the user may see them."""
    if masker is None:
        return prompt_build(question=state.question, passages=state.passages)
    masked = [
        replace(passage, title=masker.mask(passage.title), text=masker.mask(passage.text)) for passage in state.passages
    ]
    return prompt_build(question=masker.mask(state.question), passages=masked)


def _left_to_the_model(state: AnswerState, record: StepRecord, *, judging: bool) -> bool:
    """Borderline evidence goes to a provider that judges it (Claude answers or says the passages do
    not answer, which the pipeline records as a refusal); anything else stays refused."""
    if not (judging and state.assessment is not None and state.assessment.borderline):
        return False
    record.summary["evidence"]["left_to_model"] = True
    state.reason = ""
    return True


def _evidence_suffices(state: AnswerState, record: StepRecord) -> bool:
    ranked = sentences_rank(question=state.question, passages=state.passages)
    # What is asked beyond the story: a follow-up's new part, or a question's final question.
    if state.focus and ranked:
        focus = sentences_rank(question=state.focus, passages=state.passages)
    else:
        focus = focus_rank(question=state.question, passages=state.passages) if ranked else []
    asked = state.focus or question_focus(state.question) or state.question
    state.assessment = evidence_assess(
        sentences=ranked,
        retrieval=state.retrieval_signals,
        focus=focus,
        unmatched_names=unmatched_names(asked=asked, passages=state.passages),
    )
    state.closest_passages = closest_passages(ranked)
    record.summary.update({"chunks_in": len(state.passages), "sentences_in": len(ranked)})
    record.summary["evidence"] = state.assessment.summary()
    if not state.assessment.sufficient and state.plan is not None and state.plan.sub_questions:
        state.assessment = _every_hop_supported(state, record) or state.assessment
    if not state.assessment.sufficient:
        state.reason = state.assessment.reason
        return False
    return True
