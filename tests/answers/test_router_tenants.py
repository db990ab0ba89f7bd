"""The model router under each tenant's settings (PostgreSQL): provider order as an allowlist, answer
length caps, the daily token budget in Redis, and the offline provider that costs nothing."""

from __future__ import annotations

import dataclasses

import pytest
from django.test import override_settings
from django_redis import get_redis_connection

from apps.answers.router import AllProvidersFailedError, TokenBudgetExceededError
from apps.answers.router.budget import TokenBudget, budget_key
from apps.core.errors import TenantContextRequired
from apps.integrations.llm.base import EvidencePassage
from tests.support.fake_anthropic import OVERLOADED

from .router_helpers import ANSWER, anthropic_entry, generation_request, providers, run, tenant_configure

pytestmark = pytest.mark.integration


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
