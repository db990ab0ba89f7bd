"""The Anthropic answer provider: the real SDK streaming from a local server that speaks the Messages API."""

from __future__ import annotations

import time

import pytest
from django.test import override_settings

from apps.core.errors import AdapterConfigurationError
from apps.integrations.llm.anthropic_provider import AnthropicProvider
from apps.integrations.llm.base import (
    Completion,
    GenerationRequest,
    ProviderOverloadedError,
    ProviderRateLimitedError,
    ProviderRequestError,
    ProviderServerError,
    ProviderTimeoutError,
    TextDelta,
)
from tests.support.fake_anthropic import (
    BAD_REQUEST,
    OVERLOADED,
    RATE_LIMITED,
    SERVER_ERROR,
    FakeAnthropicServer,
)

API_KEY = "sk-test-provider-secret"
PROMPT = "<passages><passage number='1'>Refunds within 30 days.</passage></passages>\nQuestion: refunds?"


@pytest.fixture
def fake():
    with (
        FakeAnthropicServer() as server,
        override_settings(
            ANTHROPIC_API_KEY=API_KEY, ANTHROPIC_BASE_URL=server.base_url, ANTHROPIC_MODEL="claude-default"
        ),
    ):
        yield server


def generation_request(**overrides) -> GenerationRequest:
    fields = {
        "question": "refunds?",
        "passages": [],
        "system": "Answer only from the passages.",
        "prompt": PROMPT,
        "max_tokens": 256,
        "model": "claude-test",
        "timeout_seconds": 5.0,
    }
    return GenerationRequest(**{**fields, **overrides})


def key_sent(request) -> str:
    """The API key as sent: x-api-key, or a bearer token in newer SDKs."""
    return request.headers.get("x-api-key") or request.headers.get("authorization", "").removeprefix("Bearer ")


def test_text_streams_as_deltas_then_a_completion_with_usage(fake):
    fake.reply_stream("Refunds are accepted within 30 days [1].", input_tokens=321, output_tokens=12)

    events = list(AnthropicProvider().stream(generation_request()))

    deltas = [event.text for event in events if isinstance(event, TextDelta)]
    assert len(deltas) == 7
    assert "".join(deltas) == "Refunds are accepted within 30 days [1]."
    assert events[-1] == Completion(model="claude-test", input_tokens=321, output_tokens=12, stop_reason="end_turn")


def test_the_request_is_a_streamed_messages_call_built_from_the_generation_request(fake):
    fake.reply_stream("ok")

    list(AnthropicProvider().stream(generation_request(model="")))

    (request,) = fake.requests
    assert request.path == "/v1/messages"
    assert request.body["stream"] is True
    assert request.body["model"] == "claude-default"  # the settings' model when the request names none
    assert request.body["max_tokens"] == 256
    assert request.body["system"] == "Answer only from the passages."
    assert request.body["messages"] == [{"role": "user", "content": PROMPT}]
    assert key_sent(request) == API_KEY


def test_provider_options_select_another_account_and_endpoint(fake):
    with FakeAnthropicServer() as other:
        other.reply_stream("from the other endpoint")
        text = "".join(
            event.text
            for event in AnthropicProvider(api_key="sk-other", base_url=other.base_url).stream(generation_request())
            if isinstance(event, TextDelta)
        )

    assert text == "from the other endpoint"
    assert fake.requests == []
    assert key_sent(other.requests[0]) == "sk-other"


@pytest.mark.parametrize(
    ("error", "kind", "retriable"),
    [
        (RATE_LIMITED, ProviderRateLimitedError, True),
        (OVERLOADED, ProviderOverloadedError, True),
        (SERVER_ERROR, ProviderServerError, True),
        ((503, "api_error"), ProviderServerError, True),
        (BAD_REQUEST, ProviderRequestError, False),
        ((401, "authentication_error"), ProviderRequestError, False),
    ],
)
def test_api_errors_map_to_provider_errors_without_retrying(fake, error, kind, retriable):
    fake.reply_error(error)

    with pytest.raises(kind) as raised:
        list(AnthropicProvider().stream(generation_request()))

    assert raised.value.retriable is retriable
    assert raised.value.provider == "anthropic"
    assert f"status {error[0]}" in str(raised.value)
    assert PROMPT not in str(raised.value)
    assert API_KEY not in str(raised.value)
    assert len(fake.requests) == 1


def test_an_error_event_inside_the_stream_is_mapped_by_its_type(fake):
    fake.reply_stream("one two three", error_after_tokens=1, error_kind="overloaded_error")
    received: list[object] = []

    with pytest.raises(ProviderOverloadedError):
        received.extend(AnthropicProvider().stream(generation_request()))  # keeps what arrived before the error

    assert received == [TextDelta(text="one ")]


def test_a_slow_first_byte_times_out_within_the_request_timeout(fake):
    fake.reply_stream("too late", delay_seconds=5)

    started = time.perf_counter()
    with pytest.raises(ProviderTimeoutError):
        list(AnthropicProvider().stream(generation_request(timeout_seconds=0.3)))

    assert time.perf_counter() - started < 2
    assert fake.wait_for_stream_end().disconnected  # the abandoned request is closed, not left hanging


def test_a_slow_stream_is_fine_while_each_token_arrives_in_time(fake):
    fake.reply_stream("a b c d e", token_delay_seconds=0.1)

    events = list(AnthropicProvider().stream(generation_request(timeout_seconds=0.5)))

    assert isinstance(events[-1], Completion)
    assert fake.streams[0].completed


def test_a_broken_connection_is_a_server_error():
    unreachable = "http://127.0.0.1:9"  # the discard port: nothing listens
    with (
        override_settings(ANTHROPIC_API_KEY=API_KEY, ANTHROPIC_BASE_URL=unreachable),
        pytest.raises(ProviderServerError),
    ):
        list(AnthropicProvider().stream(generation_request()))


def test_closing_the_generator_closes_the_upstream_response(fake):
    fake.reply_stream(" ".join(f"token{number}" for number in range(50)), token_delay_seconds=0.05)

    stream = AnthropicProvider().stream(generation_request())
    assert next(stream) == TextDelta(text="token0 ")
    assert next(stream) == TextDelta(text="token1 ")
    stream.close()

    outcome = fake.wait_for_stream_end(timeout=2)
    assert outcome.disconnected
    assert not outcome.completed
    assert outcome.tokens_sent < 10
    assert fake.in_flight == 0


def test_without_a_key_the_provider_refuses_to_run():
    with override_settings(ANTHROPIC_API_KEY=""), pytest.raises(AdapterConfigurationError):
        list(AnthropicProvider().stream(generation_request()))
