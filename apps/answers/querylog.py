"""Write the query log row of one answered (or refused, blocked, timed-out, failed) question."""

from __future__ import annotations

from typing import Any

from apps.answers.safety.pii import pii_redact_many_for_tenant

from .models import QueryLog
from .orchestrator.state import AnswerState


def query_log_record(*, state: AnswerState, trace: dict[str, Any], latency_ms: float) -> QueryLog:
    """Query and answer are stored redacted per the tenant's PII policy; the counts say what was removed."""
    query, answer = pii_redact_many_for_tenant([state.question, state.answer], schema_name=state.tenant_schema)
    redactions: dict[str, int] = dict(query.counts)
    for kind, count in answer.counts.items():
        redactions[kind] = redactions.get(kind, 0) + count
    return QueryLog.objects.create(
        user=state.user,
        tenant_schema=state.tenant_schema,
        query=query.text,
        answer=answer.text,
        chunk_ids=[citation["chunk_id"] for citation in state.citations],
        document_ids=list(dict.fromkeys(citation["document_id"] for citation in state.citations)),
        model=state.model,
        provider=state.provider,
        fallbacks=state.fallbacks,
        legs=state.leg_statuses,
        latency_ms=latency_ms,
        ttft_ms=state.ttft_ms,
        input_tokens=state.input_tokens,
        output_tokens=state.output_tokens,
        trace_id=trace["trace_id"],
        outcome=state.outcome or QueryLog.Outcome.FAILED,
        reason=state.reason[:200],
        question_kind=state.plan.kind if state.plan else "",
        channel=state.channel,
        cached=state.cached,
        redactions=redactions,
        trace=trace,
    )
