"""What the model router tests share: providers on two fake Anthropic servers, a buggy provider,
tenant settings, and one call through the router."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.test import override_settings
from prometheus_client import REGISTRY

from apps.answers.router import GenerationRecord, model_router
from apps.integrations.llm.base import GenerationRequest
from apps.tenants.models import TenantSettings
from apps.tenants.selectors import tenant_settings_get
from tests.support.fake_anthropic import FakeAnthropicServer

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


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0
