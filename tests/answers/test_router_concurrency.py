"""The model router under load: a provider's concurrency slots, fallback or queueing when they are
full, and a closed stream cancelling the upstream call and freeing its slot."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from apps.answers.router import GenerationRecord, model_router
from apps.answers.router.budget import TokenBudget
from apps.tenants.models import TenantSettings

from .router_helpers import ANSWER, anthropic_entry, generation_request, metric, providers, run, tenant_configure

pytestmark = pytest.mark.integration


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
