"""The response cache: an identical question from the same principal set on the same index is answered
again from Redis for settings.RESPONSE_CACHE_TTL_SECONDS (30 minutes).

The key follows apps/retrieval/cache.py: tenant, sorted principal set, index version (bumped by every
ingest, delete and permission change), plus everything else that shapes the answer (legs, k, the
tenant's provider order). A revoked grant therefore never replays an answer built from the document.
Only answered and refused outcomes are kept. An answer degraded by a retrieval leg that failed or
timed out under load, or written by a fallback provider during an outage, is kept only for
settings.DEGRADED_CACHE_TTL_SECONDS (a minute): not replayed for half an hour, yet a busy system is
not made to redo the same work for every repeat. A replay still writes its own query log row.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from apps.answers.citations import CitationRegistry
from apps.answers.evidence.sufficiency import evidence_model_version, evidence_threshold
from apps.answers.orchestrator.state import AnswerState
from apps.answers.orchestrator.trace import StepRecord
from apps.documents.index_state import current_index_version
from apps.retrieval.cache import cache_get, cache_key, cache_set, cache_ttl, legs_degraded
from apps.tenants.selectors import tenant_settings_get

KIND = "response"
CACHEABLE_OUTCOMES = ("answered", "refused")


def _key(state: AnswerState) -> str | None:
    if not state.use_cache or not state.principals or state.plan is None:
        return None
    if not state.index_version:
        state.index_version = current_index_version()
    policy = tenant_settings_get(schema_name=state.tenant_schema)
    return cache_key(
        KIND,
        tenant=state.tenant_schema,
        principals=sorted(state.principals),
        version=state.index_version,
        question=" ".join(state.question.split()),
        legs=state.plan.legs,
        k=state.plan.k,
        providers=policy.llm_provider_order or settings.LLM_DEFAULT_ORDER,
        # An answer cached under one PII policy is not shown under another.
        pii=[policy.pii_in_answers, policy.pii_in_prompts, *sorted(policy.pii_kinds)],
        min_confidence=evidence_threshold(),
        evidence_model=evidence_model_version(),
    )


def response_cache_get(state: AnswerState, record: StepRecord) -> dict[str, Any] | None:
    key = _key(state)
    hit = cache_get(KIND, key) if key else None
    record.summary["response_cache"] = "off" if key is None else ("hit" if hit is not None else "miss")
    return hit


def response_cache_set(state: AnswerState, registry: CitationRegistry) -> None:
    if state.outcome not in CACHEABLE_OUTCOMES:
        return
    key = _key(state)
    if key is None:
        return
    value = {
        "outcome": state.outcome,
        "reason": state.reason,
        "provider": state.provider,
        "model": state.model,
        "leg_statuses": state.leg_statuses,
        "pieces": [{"text": piece.text, "citations": piece.citations} for piece in state.pieces],
        "related": state.related,
    }
    degraded = bool(state.fallbacks) or legs_degraded(state.leg_statuses)
    cache_set(KIND, key, value, ttl=cache_ttl(settings.RESPONSE_CACHE_TTL_SECONDS, degraded=degraded))
