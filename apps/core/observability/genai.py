"""A span per model call, with the OpenTelemetry GenAI semantic conventions' attributes.

`gen_ai.operation.name`, `gen_ai.provider.name`, `gen_ai.request.model`, `gen_ai.request.max_tokens`,
then `gen_ai.response.model`, `gen_ai.usage.input_tokens`, `gen_ai.usage.output_tokens` and
`gen_ai.response.finish_reasons` when the call completes, or `error.type` when it fails. Our own
`portal.llm.*` attributes say which of the router's attempts this is and why it fell back.

Never prompts or completions: exporters ship spans off-site (the conventions make content opt-in;
we never opt in). The Anthropic SDK adds its own client span for the HTTP call under this one.

A streamed call lives across a generator's yields, so the span is not made current for the whole
call (a context attached in one `next()` and detached in another breaks the context stack); `active()`
makes it current around each step, so the SDK's span and the HTTP spans become its children.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from .tracing import tracer


@dataclass
class ModelCallSpan:
    span: trace.Span

    @classmethod
    def start(
        cls,
        *,
        provider: str,
        model: str,
        max_tokens: int,
        operation: str = "chat",
        extra: Mapping[str, str | int | bool] | None = None,
    ) -> ModelCallSpan:
        attributes: dict[str, str | int | bool] = {
            "gen_ai.operation.name": operation,
            "gen_ai.provider.name": provider,
            "gen_ai.request.model": model,
            "gen_ai.request.max_tokens": max_tokens,
            **(extra or {}),
        }
        return cls(tracer().start_span(f"{operation} {model}".strip(), kind=SpanKind.CLIENT, attributes=attributes))

    @contextmanager
    def active(self) -> Iterator[None]:
        with trace.use_span(self.span, end_on_exit=False, record_exception=False, set_status_on_exception=False):
            yield

    def completed(self, *, model: str, input_tokens: int, output_tokens: int, finish_reason: str) -> None:
        self.span.set_attributes(
            {
                "gen_ai.response.model": model,
                "gen_ai.usage.input_tokens": input_tokens,
                "gen_ai.usage.output_tokens": output_tokens,
                "gen_ai.response.finish_reasons": [finish_reason],
            }
        )

    def failed(self, error_type: str, *, reason: str = "") -> None:
        """`error_type`: a class name or a short reason, never an exception's message (it may quote the
        prompt); `reason`: the router's fallback reason, if it fell back."""
        self.span.set_attribute("error.type", error_type)
        if reason:
            self.span.set_attribute("portal.llm.fallback_reason", reason)
        self.span.set_status(Status(StatusCode.ERROR))

    def end(self) -> None:
        self.span.end()
