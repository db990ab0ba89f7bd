"""Write the query log row of one answered (or refused, blocked, timed-out, failed) question."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.answers.safety.pii import pii_redact_many_for_tenant

from .models import Conversation, QueryLog
from .orchestrator.state import AnswerState

TITLE_CHARS = 200


def query_log_record(*, state: AnswerState, trace: dict[str, Any], latency_ms: float) -> QueryLog:
    """Query and answer are stored redacted per the tenant's PII policy; the counts say what was
    removed. The row joins the state's conversation, or starts one titled with the question."""
    query, standalone, answer = pii_redact_many_for_tenant(
        [state.asked, state.standalone_question, state.answer], schema_name=state.tenant_schema
    )
    redactions: dict[str, int] = dict(query.counts)
    for kind, count in answer.counts.items():
        redactions[kind] = redactions.get(kind, 0) + count
    with transaction.atomic():
        conversation = _conversation_continued(state, title=query.text)
        return QueryLog.objects.create(
            user=state.user,
            tenant_schema=state.tenant_schema,
            conversation=conversation,
            query=query.text,
            standalone_query=standalone.text,
            answer=answer.text,
            chunk_ids=[citation["chunk_id"] for citation in state.citations],
            document_ids=list(dict.fromkeys(citation["document_id"] for citation in state.citations)),
            latency_ms=latency_ms,
            **state.run_figures(),
            trace_id=trace["trace_id"],
            outcome=state.outcome or QueryLog.Outcome.FAILED,
            reason=state.reason[:200],
            question_kind=state.plan.kind if state.plan else "",
            channel=state.channel,
            cached=state.cached,
            redactions=redactions,
            trace=trace,
        )


def _conversation_continued(state: AnswerState, *, title: str) -> Conversation:
    # The thread was checked to be the user's when the question came in; it moves to the top of
    # History. Deleted while the answer ran: the question starts a new one rather than being lost.
    if state.conversation_id is not None:
        continued = Conversation.objects.filter(pk=state.conversation_id, user=state.user)
        if continued.update(updated_at=timezone.now()):
            return Conversation(pk=state.conversation_id)
    return Conversation.objects.create(user=state.user, title=_title(title))


def _title(question: str) -> str:
    return question if len(question) <= TITLE_CHARS else question[: TITLE_CHARS - 1] + "…"
