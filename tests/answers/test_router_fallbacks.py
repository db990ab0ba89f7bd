"""The model router against real providers: two Anthropic "accounts", each a real local HTTP server
speaking the Messages API, driven by the real SDK. The first provider answers; a failure before the
first token falls back to the next, one after it is an error, never a mixed answer."""

from __future__ import annotations

import logging

import pytest

from apps.answers.router import AllProvidersFailedError, GenerationRecord, model_router
from apps.integrations.llm.base import ProviderOverloadedError, ProviderRequestError
from tests.support.fake_anthropic import BAD_REQUEST, OVERLOADED, RATE_LIMITED, SERVER_ERROR

from .router_helpers import (
    ANSWER,
    API_KEY,
    SECRET_QUESTION,
    anthropic_entry,
    generation_request,
    metric,
    providers,
    run,
)

pytestmark = pytest.mark.integration


# --- the happy path ---------------------------------------------------------------------------------


def test_the_first_provider_answers_and_the_record_carries_model_and_usage(tenant_alpha, servers):
    primary, backup = servers
    primary.reply_stream(ANSWER, input_tokens=42, output_tokens=9)
    with providers(primary, backup):
        text, record = run()

    assert text == ANSWER
    assert (record.provider, record.model, record.input_tokens, record.output_tokens) == (
        "primary",
        "claude-test",
        42,
        9,
    )
    assert record.fallbacks == []
    assert backup.requests == []


# --- fallbacks ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "reason"),
    [(RATE_LIMITED, "rate_limited"), (OVERLOADED, "overloaded"), (SERVER_ERROR, "server_error")],
)
def test_a_retriable_error_falls_back_to_the_next_provider(tenant_alpha, servers, error, reason):
    primary, backup = servers
    primary.reply_error(error)
    backup.reply_stream(ANSWER)
    with providers(primary, backup):
        text, record = run()

    assert text == ANSWER
    assert record.provider == "backup"
    assert record.fallbacks == [{"provider": "primary", "reason": reason}]
    assert len(primary.requests) == 1  # no retry: the fallback is the retry


def test_a_timeout_falls_back(tenant_alpha, servers):
    primary, backup = servers
    primary.reply_stream(ANSWER, delay_seconds=3)  # no first byte within the provider's timeout
    backup.reply_stream(ANSWER)
    with providers(primary, backup, primary=anthropic_entry(primary, timeout=0.3)):
        text, record = run()

    assert text == ANSWER
    assert record.fallbacks == [{"provider": "primary", "reason": "timeout"}]
    assert primary.wait_for_stream_end().disconnected


def test_an_error_event_before_the_first_token_still_falls_back(tenant_alpha, servers):
    primary, backup = servers
    primary.reply_stream(ANSWER, error_after_tokens=0, error_kind="overloaded_error")
    backup.reply_stream(ANSWER)
    with providers(primary, backup):
        text, record = run()

    assert text == ANSWER
    assert record.fallbacks == [{"provider": "primary", "reason": "overloaded"}]


def test_a_failure_after_the_first_token_is_an_error_never_a_mixed_answer(tenant_alpha, servers):
    primary, backup = servers
    primary.reply_stream(ANSWER, error_after_tokens=2)
    backup.reply_stream("A different answer.")
    record = GenerationRecord()
    received: list[str] = []
    with providers(primary, backup):
        stream = model_router().stream(generation_request(), tenant_schema="alpha", record=record)
        with pytest.raises(ProviderOverloadedError) as raised:
            received.extend(stream)  # extend keeps what arrived before the error

    assert "".join(received) == "Refunds are "
    assert raised.value.provider == "primary"
    assert record.provider == "primary"
    assert record.fallbacks == []
    assert backup.requests == []


def test_a_bad_request_is_not_retried_elsewhere(tenant_alpha, servers):
    primary, backup = servers
    primary.reply_error(BAD_REQUEST)
    with providers(primary, backup), pytest.raises(ProviderRequestError):
        run()

    assert backup.requests == []


def test_a_provider_bug_falls_back_and_is_logged_without_the_prompt(tenant_alpha, servers, caplog):
    primary, backup = servers
    backup.reply_stream(ANSWER)
    broken = {"BACKEND": "tests.answers.router_helpers.BrokenProvider", "MAX_CONCURRENCY": 2}
    with (
        providers(primary, backup, order=("broken", "backup"), broken=broken),
        caplog.at_level(logging.WARNING, logger="apps.answers.router"),
    ):
        text, record = run()

    assert text == ANSWER
    assert record.fallbacks == [{"provider": "broken", "reason": "error"}]
    assert "answer provider broken skipped: error" in caplog.text
    assert SECRET_QUESTION not in caplog.text
    assert all(SECRET_QUESTION not in str(entry.exc_info) for entry in caplog.records)


def test_when_every_provider_fails_the_error_carries_each_reason(tenant_alpha, servers, caplog):
    primary, backup = servers
    primary.reply_error(OVERLOADED)
    backup.reply_error(RATE_LIMITED)
    fallbacks_before = metric("portal_llm_fallbacks_total", provider="primary", reason="overloaded")
    calls_before = metric("portal_llm_calls_total", provider="backup", outcome="rate_limited")
    with (
        providers(primary, backup),
        caplog.at_level(logging.WARNING, logger="apps.answers.router"),
        pytest.raises(AllProvidersFailedError) as raised,
    ):
        run()

    assert raised.value.record.fallbacks == [
        {"provider": "primary", "reason": "overloaded"},
        {"provider": "backup", "reason": "rate_limited"},
    ]
    assert "answer provider primary skipped: overloaded" in caplog.text
    assert "answer provider backup skipped: rate_limited" in caplog.text
    assert metric("portal_llm_fallbacks_total", provider="primary", reason="overloaded") == fallbacks_before + 1
    assert metric("portal_llm_calls_total", provider="backup", outcome="rate_limited") == calls_before + 1
    assert SECRET_QUESTION not in caplog.text
    assert API_KEY not in caplog.text
