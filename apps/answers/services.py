"""`answer_question`: the one entry point the portal, the API and commands call to answer a question.

It runs in the current tenant's schema as `user`, and returns an `AnswerResult` or, with
`stream=True`, an iterator of `AnswerEvent`s: `citation` / `token` events as the verified answer
grows, then `error` (only when the run timed out or failed), `trace` and `done`. Closing the
iterator cancels the run (the provider's stream is closed). Every run that starts writes one
QueryLog row, PII-redacted per the tenant's policy; a timeout is logged, recorded as `timed_out`
and, without streaming, raised as `QueryTimeoutError`.
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterator, Sequence
from typing import Literal, overload

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError

from apps.accounts.models import User
from apps.core.metrics import answer_seconds, answers_total, tenant_label
from apps.documents.acl import principals_for_user
from apps.integrations.llm.base import ProviderError
from apps.tenants.context import current_tenant_schema

from . import messages
from .errors import QueryTimeoutError
from .events import DONE, ERROR, TOKEN, TRACE, AnswerEvent, AnswerResult
from .models import QueryLog
from .orchestrator.deadline import Deadline
from .orchestrator.pipeline import answer_pipeline
from .orchestrator.runner import StepRunner
from .orchestrator.state import AnswerState, EmittedPiece
from .querylog import query_log_record
from .router import AllProvidersFailedError, TokenBudgetExceededError
from .selectors import conversation_turns_for_rewrite
from .steps.formatter import sources_of

__all__ = ["AnswerEvent", "AnswerResult", "QueryTimeoutError", "answer_question"]

logger = logging.getLogger(__name__)

CHANNELS = ("api", "portal", "websocket", "command", "eval")


@overload
def answer_question(
    *,
    user: User | AnonymousUser,
    question: str,
    stream: Literal[False] = False,
    legs: Sequence[str] | None = None,
    k: int | None = None,
    channel: str = "api",
    use_cache: bool = True,
    conversation_id: int | None = None,
) -> AnswerResult: ...


@overload
def answer_question(
    *,
    user: User | AnonymousUser,
    question: str,
    stream: Literal[True],
    legs: Sequence[str] | None = None,
    k: int | None = None,
    channel: str = "api",
    use_cache: bool = True,
    conversation_id: int | None = None,
) -> Generator[AnswerEvent, None, None]: ...


def answer_question(
    *,
    user: User | AnonymousUser,
    question: str,
    stream: bool = False,
    legs: Sequence[str] | None = None,
    k: int | None = None,
    channel: str = "api",
    use_cache: bool = True,
    conversation_id: int | None = None,
) -> AnswerResult | Generator[AnswerEvent, None, None]:
    """Raises ValidationError for bad input, PermissionDenied for anonymous or inactive users and
    Conversation.DoesNotExist for a conversation that is not the user's, before anything runs or is
    stored. Without `conversation_id` the question starts a new conversation; the result names it."""
    state = _state_for(user=user, question=question, legs=legs, k=k, channel=channel, use_cache=use_cache)
    if conversation_id is not None:
        state.conversation_id = conversation_id
        state.earlier_turns = conversation_turns_for_rewrite(user=state.user, conversation_id=conversation_id)
    events = _answer_events(state)
    return events if stream else _collected(events)


def _state_for(
    *,
    user: User | AnonymousUser,
    question: str,
    legs: Sequence[str] | None,
    k: int | None,
    channel: str,
    use_cache: bool,
) -> AnswerState:
    if not isinstance(user, User) or not user.is_authenticated or not user.is_active:
        raise PermissionDenied("sign in to ask questions")
    if not isinstance(question, str) or not question.strip():
        raise ValidationError("the question is empty", code="required")
    if len(question) > settings.ANSWER_MAX_QUESTION_CHARS:
        raise ValidationError(
            f"the question is longer than {settings.ANSWER_MAX_QUESTION_CHARS} characters", code="max_length"
        )
    if legs is not None:
        unknown = sorted(set(legs) - set(settings.RETRIEVAL_LEGS))
        if unknown or not legs:
            raise ValidationError(f"unknown retrieval legs {unknown}; choose from {sorted(settings.RETRIEVAL_LEGS)}")
    if k is not None and not (isinstance(k, int) and 1 <= k <= settings.ANSWER_MAX_K):
        raise ValidationError(f"k must be an integer from 1 to {settings.ANSWER_MAX_K}")
    if channel not in CHANNELS:
        raise ValidationError(f"unknown channel {channel!r}; choose from {list(CHANNELS)}")
    return AnswerState(
        user=user,
        question=question.strip(),
        tenant_schema=current_tenant_schema(),
        principals=tuple(principals_for_user(user)),
        channel=channel,
        legs_requested=tuple(legs) if legs else None,
        k_requested=k,
        use_cache=use_cache,
    )


def _answer_events(state: AnswerState) -> Generator[AnswerEvent, None, None]:
    deadline = Deadline(settings.ANSWER_TIMEOUT_SECONDS)
    runner = StepRunner(
        deadline=deadline,
        budgets_seconds=settings.ANSWER_STEP_BUDGETS_SECONDS,
        tenant_schema=state.tenant_schema,
        query_length=len(state.asked),
    )
    error: dict[str, str] | None = None
    pipeline = answer_pipeline(state, runner)
    try:
        for event in pipeline:
            if event.type == TOKEN and state.ttft_ms is None:
                state.ttft_ms = round(deadline.elapsed_ms(), 2)
            yield event
    except GeneratorExit:
        pipeline.close()  # now, not at garbage collection: it closes the provider's stream
        state.outcome, state.reason = QueryLog.Outcome.CANCELLED, "client_went_away"
        _finish(state, runner, deadline)
        raise
    except QueryTimeoutError as timeout:
        error = _failed(state, QueryLog.Outcome.TIMED_OUT, f"timeout:{timeout.step}", "timed_out", messages.TIMED_OUT)
    except TokenBudgetExceededError:
        error = _failed(
            state, QueryLog.Outcome.FAILED, "token_budget_exceeded", "budget_exceeded", messages.BUDGET_EXCEEDED
        )
    except (AllProvidersFailedError, ProviderError) as failure:
        error = _failed(state, QueryLog.Outcome.FAILED, type(failure).__name__, "failed", messages.FAILED)
    except Exception as failure:  # noqa: BLE001 - any failure must still end the stream and be logged
        # The message may quote the question or a passage: log the type and trace id only.
        logger.error("answer failed: %s", type(failure).__name__, extra={"answer_trace_id": runner.trace.trace_id})
        error = _failed(state, QueryLog.Outcome.FAILED, type(failure).__name__, "failed", messages.FAILED)
    result = _finish(state, runner, deadline)
    if error:
        yield AnswerEvent(ERROR, error)
    yield AnswerEvent(TRACE, result.trace)
    yield AnswerEvent(DONE, result.as_dict())


def _failed(state: AnswerState, outcome: str, reason: str, code: str, message: object) -> dict[str, str]:
    """Whatever was streamed is void: the answer becomes the error message (`done` is authoritative)."""
    state.outcome, state.reason = outcome, reason
    state.pieces, state.citations = [EmittedPiece(text=str(message))], []
    return {"code": code, "message": str(message)}


def _finish(state: AnswerState, runner: StepRunner, deadline: Deadline) -> AnswerResult:
    """End the spans, write the query log, log the outcome; the result the `done` event carries."""
    latency_ms = round(deadline.elapsed_ms(), 2)
    runner.finish(outcome=state.outcome)
    trace = runner.trace.as_dict()
    log_row = query_log_record(state=state, trace=trace, latency_ms=latency_ms)
    answers_total.labels(outcome=state.outcome, channel=state.channel, tenant=tenant_label(state.tenant_schema)).inc()
    answer_seconds.labels(outcome=state.outcome).observe(latency_ms / 1000)
    level = logging.WARNING if state.outcome in (QueryLog.Outcome.TIMED_OUT, QueryLog.Outcome.FAILED) else logging.INFO
    logger.log(
        level,
        "question %s",
        state.outcome,
        extra={
            "query_id": log_row.pk,
            "answer_trace_id": runner.trace.trace_id,
            "tenant_schema": state.tenant_schema,
            "outcome": state.outcome,
            "reason": state.reason,
            "latency_ms": latency_ms,
            "query_length": len(state.asked),
        },
    )
    return AnswerResult(
        query_id=log_row.pk,
        conversation_id=log_row.conversation_id,
        standalone_question=state.standalone_question,
        answer=state.answer,
        outcome=state.outcome,
        citations=state.citations,
        sources=sources_of(state.citations),
        related=state.related,
        latency_ms=latency_ms,
        **state.run_figures(),
        trace_id=runner.trace.trace_id,
        trace=trace,
        reason=state.reason,
        cached=state.cached,
    )


def _collected(events: Iterator[AnswerEvent]) -> AnswerResult:
    result: AnswerResult | None = None
    for event in events:
        if event.type == DONE:
            result = AnswerResult(**event.data)
    assert result is not None  # the stream always ends with `done`
    if result.outcome == QueryLog.Outcome.TIMED_OUT:
        step = result.reason.removeprefix("timeout:")
        raise QueryTimeoutError(
            f"the question timed out in step {step} after {result.latency_ms:.0f} ms",
            step=step,
            query_id=result.query_id,
        )
    return result
