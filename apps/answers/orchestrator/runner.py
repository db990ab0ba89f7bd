"""Run the named steps of one answer: timing, budgets, the overall deadline and one span per step.

A step may be entered several times (the verifier runs once per sentence while the answer streams);
its record and span then cover all of its calls. Only the OpenTelemetry API is used here: spans
go nowhere until the SDK is configured (apps.core observability), and cost next to nothing then.

Spans are made current only inside a `step` block, and no step block spans a `yield`: the answer
is a generator that a Channels consumer may resume from another context, where detaching a span
attached elsewhere would fail.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from apps.answers.errors import QueryTimeoutError
from apps.core.metrics import answer_step_seconds

from .deadline import Deadline
from .trace import ExecutionTrace, StepRecord

tracer = trace.get_tracer(__name__)


class StepRunner:
    def __init__(
        self, *, deadline: Deadline, budgets_seconds: dict[str, float], tenant_schema: str, query_length: int
    ) -> None:
        self.deadline = deadline
        self._budgets = budgets_seconds
        self._common: dict[str, AttributeValue] = {"tenant.schema": tenant_schema, "answer.query_length": query_length}
        self._root = tracer.start_span("answer.question", attributes=self._common)
        self._root_context = trace.set_span_in_context(self._root)
        self._spans: dict[str, Span] = {}
        self._ended_ns: dict[str, int] = {}
        self.trace = ExecutionTrace(trace_id=self._trace_id())

    def _trace_id(self) -> str:
        span_context = self._root.get_span_context()
        # Without a configured SDK the span is a no-op with an invalid id: the log still needs one.
        return trace.format_trace_id(span_context.trace_id) if span_context.is_valid else uuid.uuid4().hex

    def budget_left(self, name: str) -> float:
        """Seconds this step may still use: its own budget or the question's, whichever ends first."""
        record = self.trace.step(name)
        own = self._budgets.get(name, self.deadline.seconds) - record.duration_ms / 1000
        return max(0.0, min(own, self.deadline.remaining()))

    @contextmanager
    def step(self, name: str) -> Iterator[StepRecord]:
        record = self.trace.step(name)
        record.budget_ms = self._budgets.get(name, self.deadline.seconds) * 1000
        try:
            self.deadline.check(name)
        except QueryTimeoutError:
            record.outcome = "timed_out"
            raise
        span = self._spans.get(name)
        if span is None:
            record.started_ms = self.deadline.elapsed_ms()
            span = self._spans[name] = tracer.start_span(f"answer.{name}", context=self._root_context)
        token = otel_context.attach(trace.set_span_in_context(span))
        started = time.perf_counter()
        try:
            yield record
        except QueryTimeoutError:
            record.outcome = "timed_out"
            raise
        except GeneratorExit:
            record.outcome = "cancelled"
            raise
        except Exception:
            record.outcome = "failed"
            raise
        finally:
            record.duration_ms += (time.perf_counter() - started) * 1000
            record.calls += 1
            self._ended_ns[name] = time.time_ns()
            otel_context.detach(token)
        if record.duration_ms > record.budget_ms:
            record.outcome = "timed_out"
            raise QueryTimeoutError(f"step {name} ran past its {record.budget_ms / 1000:g} s budget", step=name)
        if self.deadline.remaining() <= 0:
            record.outcome = "timed_out"
            self.deadline.check(name)

    def finish(self, *, outcome: str) -> None:
        """End every span with its step's attributes, then the question's own span."""
        for record in self.trace.steps:
            span = self._spans.get(record.name)
            if span is None:
                continue
            span.set_attributes(
                {
                    **self._common,
                    "answer.step": record.name,
                    "answer.outcome": record.outcome,
                    "answer.duration_ms": round(record.duration_ms, 2),
                    "answer.calls": record.calls,
                    **{
                        f"answer.{key}": value
                        for key, value in record.summary.items()
                        if key in ("chunks_in", "chunks_out", "quarantined", "sentences_in", "sentences_out")
                    },
                }
            )
            if record.outcome != "ok":
                span.set_status(Status(StatusCode.ERROR, record.outcome))
            span.end(end_time=self._ended_ns.get(record.name))
            answer_step_seconds.labels(step=record.name).observe(record.duration_ms / 1000)
        self._root.set_attributes(
            {"answer.outcome": outcome, "answer.duration_ms": round(self.deadline.elapsed_ms(), 2)}
        )
        if outcome in ("timed_out", "failed"):
            self._root.set_status(Status(StatusCode.ERROR, outcome))
        self._root.end()
