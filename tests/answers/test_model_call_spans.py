"""A GenAI span per model call (OpenTelemetry semantic conventions): model, provider, tokens,
finish reason, and which attempt of the router it was; never the prompt."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from tests.support.fake_anthropic import OVERLOADED
from tests.support.spans import attributes_of, captured_spans, named

from .router_helpers import ANSWER, SECRET_QUESTION, providers, run

pytestmark = pytest.mark.integration


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    with captured_spans() as exporter:
        yield exporter


def test_a_model_call_has_a_genai_span_with_its_token_counts(tenant_alpha, servers, spans):
    primary, backup = servers
    primary.reply_stream(ANSWER, input_tokens=42, output_tokens=9)
    with providers(primary, backup):
        run()

    [call] = named(spans, "chat ")
    attributes = attributes_of(call)
    assert call.name == "chat claude-test"
    assert call.kind is SpanKind.CLIENT
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.provider.name"] == "anthropic"
    assert attributes["gen_ai.request.model"] == "claude-test"
    assert attributes["gen_ai.request.max_tokens"] == 200
    assert attributes["gen_ai.response.model"] == "claude-test"
    assert (attributes["gen_ai.usage.input_tokens"], attributes["gen_ai.usage.output_tokens"]) == (42, 9)
    assert tuple(attributes["gen_ai.response.finish_reasons"]) == ("end_turn",)
    assert (attributes["portal.llm.provider"], attributes["portal.llm.attempt"]) == ("primary", 1)
    assert call.status.status_code is not StatusCode.ERROR
    assert all(SECRET_QUESTION not in str(value) for value in attributes.values())
    # The SDK's own span for the HTTP call is a child of ours.
    parent_id = call.context.span_id
    children = [span for span in spans.get_finished_spans() if span.parent and span.parent.span_id == parent_id]
    assert [attributes_of(span).get("gen_ai.provider.name") for span in children] == ["anthropic"]


def test_a_fallback_shows_as_a_failed_first_attempt_and_a_second_one(tenant_alpha, servers, spans):
    primary, backup = servers
    primary.reply_error(OVERLOADED)
    backup.reply_stream(ANSWER, input_tokens=5, output_tokens=3)
    with providers(primary, backup):
        run()

    first, second = sorted(named(spans, "chat "), key=lambda span: attributes_of(span)["portal.llm.attempt"])
    assert (attributes_of(first)["portal.llm.provider"], attributes_of(first)["portal.llm.attempt"]) == ("primary", 1)
    assert attributes_of(first)["error.type"] == "overloaded"
    assert attributes_of(first)["portal.llm.fallback_reason"] == "overloaded"
    assert first.status.status_code is StatusCode.ERROR
    assert "gen_ai.usage.input_tokens" not in attributes_of(first)
    assert (attributes_of(second)["portal.llm.provider"], attributes_of(second)["portal.llm.attempt"]) == ("backup", 2)
    assert attributes_of(second)["gen_ai.usage.output_tokens"] == 3
