"""The model router against real providers: two Anthropic "accounts", each a real local HTTP server
speaking the Messages API, driven by the real SDK; tenant settings in PostgreSQL; budgets in Redis."""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.test import override_settings
from django_redis import get_redis_connection
from prometheus_client import REGISTRY

from apps.answers.router import (
    AllProvidersFailedError,
    GenerationRecord,
    TokenBudgetExceededError,
    model_router,
)
from apps.answers.router.budget import TokenBudget, budget_key
from apps.core.errors import TenantContextRequired
from apps.integrations.llm.base import (
    EvidencePassage,
    GenerationRequest,
    ProviderOverloadedError,
    ProviderRequestError,
)
from apps.tenants.models import TenantSettings
from apps.tenants.selectors import tenant_settings_get
from tests.support.fake_anthropic import (
    BAD_REQUEST,
    OVERLOADED,
    RATE_LIMITED,
    SERVER_ERROR,
    FakeAnthropicServer,
)

pytestmark = pytest.mark.integration

API_KEY = "sk-test-router-secret"
SECRET_QUESTION = "What is the salary of Jane Doe?"
ANSWER = "Refunds are accepted within 30 days [1]."


class BrokenProvider:
    """A provider with a bug: it raises something that is not a ProviderError."""

    name = "broken"

    def stream(self, request: GenerationRequest) -> Iterator:
        raise RuntimeError(f"bug while handling {request.prompt}")
        yield  # pragma: no cover - makes this a generator


def anthropic_entry(server: FakeAnthropicServer, *, concurrency: int = 4, timeout: float = 5.0, metered=True) -> dict:
    return {
        "BACKEND": "apps.integrations.llm.anthropic_provider.AnthropicProvider",
        "MODEL": "claude-test",
        "MAX_CONCURRENCY": concurrency,
        "TIMEOUT": timeout,
        "METERED": metered,
        "OPTIONS": {"api_key": API_KEY, "base_url": server.base_url},
    }


def generation_request(*, max_tokens: int = 200, timeout_seconds: float = 10.0) -> GenerationRequest:
    return GenerationRequest(
        question=SECRET_QUESTION,
        passages=[],
        system="Answer from the numbered passages only.",
        prompt=f"<question>{SECRET_QUESTION}</question>",
        max_tokens=max_tokens,
        timeout_seconds=timeout_seconds,
    )


@pytest.fixture
def servers() -> Iterator[tuple[FakeAnthropicServer, FakeAnthropicServer]]:
    with FakeAnthropicServer() as primary, FakeAnthropicServer() as backup:
        yield primary, backup


@contextmanager
def providers(primary_server, backup_server, /, *, order=("primary", "backup"), wait=0.1, **entries):
    """Settings with providers "primary" and "backup" on the two servers; `entries` replace or add some."""
    configured = {"primary": anthropic_entry(primary_server), "backup": anthropic_entry(backup_server)}
    configured.update(entries)
    with override_settings(
        LLM_PROVIDERS=configured,
        LLM_DEFAULT_ORDER=list(order),
        LLM_CONCURRENCY_WAIT_SECONDS=wait,
        ANSWER_MAX_TOKENS=1000,
    ):
        yield


def tenant_configure(schema: str, **fields) -> None:
    TenantSettings.objects.filter(pk=tenant_settings_get(schema_name=schema).pk).update(**fields)


def run(*, schema: str = "alpha", request: GenerationRequest | None = None) -> tuple[str, GenerationRecord]:
    record = GenerationRecord()
    text = "".join(model_router().stream(request or generation_request(), tenant_schema=schema, record=record))
    return text, record


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
    broken = {"BACKEND": "tests.answers.test_router.BrokenProvider", "MAX_CONCURRENCY": 2}
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


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


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


# --- tenant allowlist and order, answer length ----------------------------------------------------------


def test_the_tenant_order_is_followed_and_is_an_allowlist(tenant_alpha, servers):
    primary, backup = servers
    tenant_configure("alpha", llm_provider_order=["backup"])
    backup.reply_error(OVERLOADED)
    with providers(primary, backup), pytest.raises(AllProvidersFailedError) as raised:
        run()

    assert raised.value.record.fallbacks == [{"provider": "backup", "reason": "overloaded"}]
    assert primary.requests == []  # not on the tenant's list, so never used as a fallback


def test_the_tenant_order_overrides_the_default_order(tenant_alpha, tenant_beta, servers):
    primary, backup = servers
    tenant_configure("alpha", llm_provider_order=["backup", "primary"])
    backup.reply_stream(ANSWER)
    primary.reply_stream(ANSWER)
    with providers(primary, backup):
        _, alpha_record = run(schema="alpha")
        _, beta_record = run(schema="beta")  # default order

    assert (alpha_record.provider, beta_record.provider) == ("backup", "primary")


def test_a_provider_removed_from_settings_is_dropped_not_replaced(tenant_alpha, servers):
    primary, backup = servers
    tenant_configure("alpha", llm_provider_order=["retired"])
    with providers(primary, backup), pytest.raises(AllProvidersFailedError, match="retired"):
        run()

    assert primary.requests == []
    assert backup.requests == []


def test_answers_are_capped_by_the_request_the_tenant_and_the_platform(tenant_alpha, servers):
    primary, backup = servers
    tenant_configure("alpha", max_answer_tokens=300)
    for _ in range(3):
        primary.reply_stream(ANSWER)
    with providers(primary, backup):
        run(request=generation_request(max_tokens=5000))
        run(request=generation_request(max_tokens=120))
        tenant_configure("alpha", max_answer_tokens=50_000)
        run(request=generation_request(max_tokens=5000))

    assert [request.body["max_tokens"] for request in primary.requests] == [300, 120, 1000]


def test_an_unknown_or_public_tenant_is_refused(db, servers):
    primary, backup = servers
    with providers(primary, backup):
        for schema in ("nosuchtenant", "public", ""):
            with pytest.raises(TenantContextRequired):
                run(schema=schema)

    assert primary.requests == []


# --- token budget ---------------------------------------------------------------------------------------


def test_usage_is_counted_against_the_daily_budget(tenant_alpha, servers):
    primary, backup = servers
    tenant_configure("alpha", daily_token_budget=10_000)
    primary.reply_stream(ANSWER, input_tokens=120, output_tokens=30)
    with providers(primary, backup):
        run()

    assert TokenBudget().used_today(tenant_schema="alpha") == 150  # the reservation was settled to real usage
    assert TokenBudget().used_today(tenant_schema="beta") == 0


def test_an_exhausted_budget_refuses_before_any_provider_is_called(tenant_alpha, servers):
    primary, backup = servers
    tenant_configure("alpha", daily_token_budget=1_000)
    get_redis_connection("default").set(budget_key(tenant_schema="alpha"), 900)
    primary.reply_stream(ANSWER)
    with providers(primary, backup), pytest.raises(TokenBudgetExceededError) as raised:
        run(request=generation_request(max_tokens=200))  # 900 used + 200 answer tokens + prompt > 1000

    assert primary.requests == []
    assert backup.requests == []
    assert raised.value.record.fallbacks == [
        {"provider": "primary", "reason": "budget"},
        {"provider": "backup", "reason": "budget"},
    ]
    assert TokenBudget().used_today(tenant_schema="alpha") == 900  # the refused reservation was undone


def test_an_unmetered_provider_still_answers_when_the_budget_is_used_up(tenant_alpha, servers):
    primary, backup = servers
    tenant_configure("alpha", daily_token_budget=100)
    backup.reply_stream(ANSWER)
    with providers(primary, backup, backup=anthropic_entry(backup, metered=False)):
        text, record = run(request=generation_request(max_tokens=200))

    assert text == ANSWER
    assert record.fallbacks == [{"provider": "primary", "reason": "budget"}]
    assert primary.requests == []
    assert TokenBudget().used_today(tenant_schema="alpha") == 0


# --- concurrency and cancellation ----------------------------------------------------------------------


@pytest.fixture
def committed_alpha(committed_db, provisioned_tenants) -> Iterator[str]:
    """Alpha's settings committed, so router threads with their own connections read them."""
    yield "alpha"
    TenantSettings.objects.filter(tenant__schema_name="alpha").delete()


def run_in_threads(count: int, *, schema: str) -> list[GenerationRecord | BaseException]:
    results: list[GenerationRecord | BaseException] = [RuntimeError("not run")] * count

    def answer(index: int) -> None:
        from django.db import connection

        try:
            results[index] = run(schema=schema)[1]
        except BaseException as error:  # noqa: BLE001 - reported to the test thread
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=answer, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    return results


def test_a_full_provider_falls_back_with_reason_concurrency(committed_alpha, servers):
    primary, backup = servers
    slow = dict(token_delay_seconds=0.15)
    primary.reply_stream(ANSWER, **slow)
    primary.reply_stream(ANSWER, **slow)
    backup.reply_stream(ANSWER)
    backup.reply_stream(ANSWER)
    with providers(primary, backup, wait=0.05, primary=anthropic_entry(primary, concurrency=1)):
        results = run_in_threads(2, schema=committed_alpha)

    records = [result for result in results if isinstance(result, GenerationRecord)]
    assert len(records) == 2, results
    assert sorted(record.provider for record in records) == ["backup", "primary"]
    assert [record.fallbacks for record in records if record.provider == "backup"] == [
        [{"provider": "primary", "reason": "concurrency"}]
    ]
    assert primary.max_in_flight == 1


def test_the_last_provider_queues_for_its_slot_instead_of_failing(committed_alpha, servers):
    primary, backup = servers
    for _ in range(3):
        primary.reply_stream(ANSWER, token_delay_seconds=0.05)
    with providers(primary, backup, order=("primary",), wait=0.05, primary=anthropic_entry(primary, concurrency=1)):
        results = run_in_threads(3, schema=committed_alpha)

    assert all(isinstance(result, GenerationRecord) and result.provider == "primary" for result in results), results
    assert len(primary.requests) == 3
    assert primary.max_in_flight == 1


def test_closing_the_stream_cancels_upstream_and_frees_the_slot(tenant_alpha, servers):
    primary, backup = servers
    primary.reply_stream("one two three four five six seven eight", token_delay_seconds=0.2)
    primary.reply_stream(ANSWER)
    tenant_configure("alpha", daily_token_budget=10_000)
    with providers(primary, backup, order=("primary",), primary=anthropic_entry(primary, concurrency=1)):
        cancelled_before = metric("portal_llm_calls_total", provider="primary", outcome="cancelled")
        stream = model_router().stream(generation_request(), tenant_schema="alpha", record=GenerationRecord())
        assert next(stream) == "one "
        stream.close()
        assert metric("portal_llm_calls_total", provider="primary", outcome="cancelled") == cancelled_before + 1

        outcome = primary.wait_for_stream_end(0)
        text, record = run()  # the single slot is free again at once

    assert outcome.disconnected
    assert not outcome.completed
    assert outcome.tokens_sent < 8
    assert text == ANSWER
    assert record.fallbacks == []
    # The abandoned answer still counts (estimated, no usage arrived); both are on the day's total.
    assert TokenBudget().used_today(tenant_schema="alpha") > 10 + 8


# --- the offline provider ----------------------------------------------------------------------------------


def test_the_offline_extractive_provider_answers_unmetered_with_the_default_settings(tenant_alpha):
    tenant_configure("alpha", daily_token_budget=1)  # used up at once; the extractive provider costs nothing
    passage = EvidencePassage(
        number=1,
        chunk_id=7,
        document_id=3,
        title="Handbook",
        text="Refunds are accepted within 30 days of purchase. Shipping is free.",
    )
    request = dataclasses.replace(generation_request(), question="What is the refund policy?", passages=[passage])

    with override_settings(LLM_DEFAULT_ORDER=["extractive"]):
        text, record = run(request=request)

    assert "30 days" in text
    assert "[1]" in text
    assert record.provider == "extractive"
    assert record.output_tokens > 0
    assert record.fallbacks == []
    assert TokenBudget().used_today(tenant_schema="alpha") == 0
